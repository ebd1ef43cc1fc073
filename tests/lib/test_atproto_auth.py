"""Pure logic of service auth: low-S signing, JWT minting, each verification check."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from cocore.atproto import (
    AtprotoKey,
    DidNotFound,
    JwtBadAudience,
    JwtBadIssuedAt,
    JwtBadIssuer,
    JwtBadMethod,
    JwtBadSignature,
    JwtExpired,
    JwtMalformed,
    ServiceAuthVerifier,
    SigningKey,
    mint_service_jwt,
)
from cocore.errors import Unauthenticated
from cocore.syntax import Did

SERVICE = "did:web:appview.cocore.test"
K256 = SigningKey.from_private_bytes("ES256K", bytes(range(1, 33)))
P256 = SigningKey.from_private_bytes("ES256", bytes(range(2, 34)))


N_P256 = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def test_signatures_are_low_s_and_high_s_is_refused() -> None:
    for _ in range(20):
        sig = P256.sign(b"msg")
        s = int.from_bytes(sig[32:], "big")
        assert s <= N_P256 // 2 and P256.public.verify(b"msg", sig)
    high = sig[:32] + (N_P256 - s).to_bytes(32, "big")
    assert not P256.public.verify(b"msg", high)
    assert not P256.public.verify(b"other", sig)
    assert not P256.public.verify(b"msg", sig + b"\0")


class StaticKeys:
    def __init__(self, keys: dict[str, AtprotoKey]) -> None:
        self.keys = keys
        self.calls: list[tuple[str, bool]] = []

    async def atproto_key(self, did: Did, *, fresh: bool = False) -> AtprotoKey:
        self.calls.append((did, fresh))
        if did not in self.keys:
            raise DidNotFound("unknown")
        return self.keys[did]


ISS = "did:web:exchange.cocore.test"
NOW = 1_800_000_000


def verifier(now: int = NOW) -> tuple[ServiceAuthVerifier, StaticKeys]:
    keys = StaticKeys({ISS: P256.public})
    return ServiceAuthVerifier(SERVICE, keys, clock=lambda: now, max_skew_s=30), keys


def token(**overrides: Any) -> str:
    kw: dict[str, Any] = {"iss": ISS, "aud": SERVICE, "lxm": "dev.cocore.x.y", "now": NOW}
    kw.update(overrides)
    return mint_service_jwt(P256, **kw)


def _enc(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def reencode(tok: str, header: dict[str, Any] | None = None, **claims: Any) -> str:
    """The same signature over a changed header and/or payload (a forgery)."""
    h, p, s = tok.split(".")
    payload = json.loads(base64.urlsafe_b64decode(p + "=="))
    return f"{_enc(header) if header else h}.{_enc({**payload, **claims})}.{s}"


async def test_verifier_accepts_and_checks_each_claim() -> None:
    v, keys = verifier()
    claims = await v.verify(token(), "dev.cocore.x.y")
    assert (claims.iss, claims.aud, claims.lxm, claims.exp) == (
        ISS,
        SERVICE,
        "dev.cocore.x.y",
        NOW + 60,
    )
    assert keys.calls == [(ISS, False)]
    assert (await verifier(NOW + 60 + 30)[0].verify(token())).iss == ISS  # skew tolerated
    cases: list[tuple[str, type[Exception], str | None]] = [
        (token(), JwtExpired, None),
        (token(aud="did:web:other"), JwtBadAudience, None),
        (token(lxm=None), JwtBadMethod, "dev.cocore.x.y"),
        (token(lxm="dev.cocore.x.z"), JwtBadMethod, "dev.cocore.x.y"),
        (token(now=NOW + 3600), JwtBadIssuedAt, None),
        (token(ttl_s=7200), JwtBadIssuedAt, None),
        (token(iss="did:web:unknown.test"), JwtBadIssuer, None),
        (token(iss="not-a-did"), JwtBadIssuer, None),
        (reencode(token(), aud=SERVICE, lxm="dev.cocore.other.m"), JwtBadSignature, None),
    ]
    for tok, error, lxm in cases:
        check = verifier(NOW + 100)[0] if error is JwtExpired else v
        with pytest.raises(error) as err:
            await check.verify(tok, lxm)
        assert isinstance(err.value, Unauthenticated), error


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "a.b",
        "a.b.c.d",
        "!!!.e30.AA",
        "e30.e30.AA",  # no alg
        reencode(token(), {"alg": "HS256"}),
        reencode(token(), {"alg": "none"}),
        reencode(token(), {"alg": "ES256", "typ": "at+jwt"}),
        reencode(token(), exp="soon"),
        reencode(token(), exp=None),
        reencode(token(), lxm=5),
        token() + "=",
        "x" * 9000,
    ],
)
async def test_malformed_tokens(bad: str) -> None:
    with pytest.raises(JwtMalformed):
        await verifier()[0].verify(bad)


async def test_key_rotation_refetches_once() -> None:
    v, keys = verifier()
    other = SigningKey.generate("ES256")
    stale = mint_service_jwt(other, iss=ISS, aud=SERVICE, lxm=None, now=NOW)
    with pytest.raises(JwtBadSignature):
        await v.verify(stale)
    assert keys.calls == [(ISS, False), (ISS, True)]
    keys.keys[ISS] = other.public
    assert (await v.verify(stale)).iss == ISS
    k256_token = mint_service_jwt(K256, iss=ISS, aud=SERVICE, lxm=None, now=NOW)
    with pytest.raises(JwtBadSignature):  # alg ES256K against a P-256 key
        await v.verify(k256_token)
