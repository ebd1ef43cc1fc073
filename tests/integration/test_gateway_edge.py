"""Keys and the edge: the `dev.cocore.account.*` procedures with a key or a PDS-issued
service-auth JWT, revocation taking effect at once, and a paid request through Envoy with
its ext_authz check."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest

from cocore.atproto import get_service_auth
from cocore.lexicon import ids
from tests.network import TINY, TestNetwork

pytestmark = pytest.mark.pds
HELLO = [{"role": "user", "content": "ka lo mi"}]
X = "/xrpc/"


async def test_key_procedures_with_a_key(network: TestNetwork) -> None:
    user = await network.user(terms=False)
    bearer = {"authorization": f"Bearer {user.key}"}
    async with httpx.AsyncClient(base_url=network.url) as http:
        body = {"name": "second", "expiresAt": "2099-01-01T00:00:00Z"}
        r = await http.post(f"{X}{ids.ACCOUNT_CREATE_API_KEY}", headers=bearer, json=body)
        made = r.json()
        assert made["secret"].startswith("cocore-") and made["key"]["expiresAt"]
        listed = (await http.get(f"{X}{ids.ACCOUNT_LIST_API_KEYS}", headers=bearer)).json()
        assert [k["name"] for k in listed["keys"]] == ["second", "cocore cli"]
        assert all("secret" not in k for k in listed["keys"])
        second = {"authorization": f"Bearer {made['secret']}"}
        assert (await http.get("/v1/account", headers=second)).status_code == 200
        r = await http.post(f"{X}{ids.ACCOUNT_REVOKE_API_KEY}", headers=bearer,
                            json={"id": made["key"]["id"]})  # fmt: skip
        assert r.json() == {"revoked": True}
        r = await http.get("/v1/account", headers=second)
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
        r = await http.post(f"{X}{ids.ACCOUNT_DELETE_API_KEY}", headers=bearer,
                            json={"id": made["key"]["id"]})  # fmt: skip
        assert r.json() == {"deleted": True}
        r = await http.post(f"{X}{ids.ACCOUNT_REVOKE_API_KEY}", headers=bearer, json={})
        assert r.status_code == 400 and r.json()["error"] == "InvalidRequest"
        r = await http.get(f"{X}{ids.ACCOUNT_LIST_API_KEYS}")
        assert r.status_code == 401 and r.json()["error"] == "AuthRequired"


async def test_key_procedures_with_a_service_auth_jwt(network: TestNetwork) -> None:
    user = await network.user(terms=False)
    aud = network.gateway.config.service_did
    token = await get_service_auth(user.client, aud, ids.ACCOUNT_LIST_API_KEYS)
    async with httpx.AsyncClient(base_url=network.url) as http:
        jwt = {"authorization": f"Bearer {token}"}
        r = await http.get(f"{X}{ids.ACCOUNT_LIST_API_KEYS}", headers=jwt)
        assert r.status_code == 200 and r.json()["keys"][0]["did"] == user.did
        replay = await http.get(f"{X}{ids.ACCOUNT_LIST_API_KEYS}", headers=jwt)
        assert replay.status_code == 401 and replay.json()["code"] == "jwt_replayed"
        # A token bound to another method does not create keys.
        r = await http.post(f"{X}{ids.ACCOUNT_CREATE_API_KEY}", headers=jwt, json={"name": "x"})
        assert r.status_code == 401
        other = await get_service_auth(user.client, "did:web:elsewhere.test",
                                       ids.ACCOUNT_CREATE_API_KEY)  # fmt: skip
        other_auth = {"authorization": f"Bearer {other}"}
        r = await http.post(f"{X}{ids.ACCOUNT_CREATE_API_KEY}", headers=other_auth,
                            json={"name": "x"})  # fmt: skip
        assert r.status_code == 401


async def test_a_paid_request_through_envoy(network: TestNetwork, tmp_path: Path) -> None:
    edge = await network.start_edge(tmp_path)
    user = await network.user()
    client = network.openai(user.key, base=edge.url)
    answer = await client.chat.completions.create(model=TINY, messages=HELLO, max_tokens=3)
    assert answer.model_extra["x_cocore"]["settlement_uri"]
    stream = await client.chat.completions.create(model=TINY, messages=HELLO, max_tokens=3,
                                                  stream=True)  # fmt: skip
    assert [c async for c in stream][-1].choices[0].finish_reason
    assert TINY in {m.id for m in (await client.models.list()).data}
    with pytest.raises(openai.AuthenticationError) as caught:  # refused at the edge
        await network.openai("cocore-" + "B" * 43, base=edge.url).chat.completions.create(
            model=TINY, messages=HELLO
        )
    assert caught.value.code == "invalid_api_key"
    async with httpx.AsyncClient(base_url=edge.url) as http:
        public = await http.get("/v1/models")  # no key needed for the model list
        assert public.status_code == 200 and public.json()["data"]
        # Trust headers a client sends are stripped at the edge, never believed.
        forged = {"x-cocore-did": user.did, "x-cocore-key-id": "x", "x-cocore-edge": "guess"}
        r = await http.post("/v1/chat/completions", headers=forged,
                            json={"model": TINY, "messages": HELLO})  # fmt: skip
        assert r.status_code == 401
        r = await http.get(f"{X}{ids.ACCOUNT_LIST_API_KEYS}",
                           headers={"authorization": f"Bearer {user.key}"})  # fmt: skip
        assert r.status_code == 200 and r.json()["keys"]
