"""`GET /v1/models`: the models live on the network now, with provider counts."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import ModelNotFound
from ..matchmaker_client import MatchmakerClient

if TYPE_CHECKING:
    from .app import Context

CACHE_S = 2.0


class ModelDirectory:
    """Aggregates the matchmaker's live pool per model (cached for a couple of seconds)."""

    def __init__(self, matchmaker: MatchmakerClient) -> None:
        self.matchmaker = matchmaker
        self._at = 0.0
        self._models: list[dict[str, Any]] = []
        self.created = int(time.time())

    async def models(self) -> list[dict[str, Any]]:
        if time.monotonic() - self._at > CACHE_S:
            self._models = await self._load()
            self._at = time.monotonic()
        return self._models

    async def _load(self) -> list[dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        for p in await self.matchmaker.providers():
            if p.draining:
                continue
            for m in p.models:
                row = seen.setdefault(
                    m.id, {"machines": 0, "dids": set(), "ctx": 0, "tools": False}
                )
                row["machines"] += 1
                row["dids"].add(p.did)
                row["ctx"] = max(row["ctx"], m.context_length)
                row["tools"] = row["tools"] or m.tools
        return [
            {"id": mid, "object": "model", "created": self.created, "owned_by": "cocore",
             "context_length": r["ctx"],
             "x_cocore": {"providers": len(r["dids"]), "machines": r["machines"],
                          "context_length": r["ctx"], "tools": r["tools"]}}
            for mid, r in sorted(seen.items())
        ]  # fmt: skip


async def list_models(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    return JSONResponse({"object": "list", "data": await ctx.models.models()},
                        headers={"cache-control": "public, max-age=2"})  # fmt: skip


async def get_model(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    wanted = request.path_params["model"]
    for model in await ctx.models.models():
        if model["id"] == wanted:
            return JSONResponse(model)
    raise ModelNotFound(f"no provider on the network serves the model {wanted!r}", param="model")
