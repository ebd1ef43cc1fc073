"""The Starlette application: routes, the one error handler, and the context they share."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cocore.atproto import IdentityResolver
from cocore.errors import CocoreError
from cocore.lexicon import ids

from ..accounts import AccountStore
from ..config import GatewayConfig
from ..exchange_client import ExchangeClient
from ..keys import KeyStore
from ..outbox import Outbox
from ..paid import PaidPath
from . import account, inference, models
from .auth import Authenticator
from .errors import handle
from .models import ModelDirectory
from .openapi import document


@dataclass
class Context:
    config: GatewayConfig
    auth: Authenticator
    paid: PaidPath
    keys: KeyStore
    accounts: AccountStore
    outbox: Outbox
    exchange: ExchangeClient
    models: ModelDirectory
    resolver: IdentityResolver
    salt_input: bool = True


async def _openapi(_request: Request) -> Response:
    return JSONResponse(document())


async def _health(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def build_app(ctx: Context) -> Starlette:
    x = "/xrpc/"
    routes = [
        Route("/v1/chat/completions", inference.chat, methods=["POST"]),
        Route("/v1/completions", inference.completions, methods=["POST"]),
        Route("/v1/models", models.list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", models.get_model, methods=["GET"]),
        Route("/v1/account", account.account_status, methods=["GET"]),
        Route("/v1/account/login", account.account_login, methods=["POST"]),
        Route("/v1/account/accept-terms", account.accept_terms, methods=["POST"]),
        Route("/v1/account/wipe", account.wipe, methods=["POST"]),
        Route(f"{x}{ids.ACCOUNT_CREATE_API_KEY}", account.create_api_key, methods=["POST"]),
        Route(f"{x}{ids.ACCOUNT_LIST_API_KEYS}", account.list_api_keys, methods=["GET"]),
        Route(f"{x}{ids.ACCOUNT_REVOKE_API_KEY}", account.revoke_api_key, methods=["POST"]),
        Route(f"{x}{ids.ACCOUNT_DELETE_API_KEY}", account.delete_api_key, methods=["POST"]),
        Route("/openapi.json", _openapi, methods=["GET"]),
        Route("/healthz", _health, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: handle, CocoreError: handle, Exception: handle},
    )
    app.state.ctx = ctx
    return app
