"""PDS endpoints from DID documents: public https only, unless the operator allows a host."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from cocore.atproto import EndpointPolicy, IdentityResolver, UnsafeEndpoint
from cocore.syntax import parse_did
from tests.lib.test_atproto_units import FakeClock, plc_doc

STRICT = EndpointPolicy()


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://pds.example.com",
        "https://pds.example.com:8443",
        "https://bsky.social/",
        "https://93.184.216.34",
        "https://[2606:4700:4700::1111]",
    ],
)
def test_public_https_endpoints_pass(endpoint: str) -> None:
    assert STRICT.check(endpoint) == endpoint


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("http://pds.example.com", "not https"),
        ("https://169.254.169.254", "loopback, private"),  # cloud metadata
        ("https://127.0.0.1:2583", "loopback, private"),
        ("https://10.1.2.3", "loopback, private"),
        ("https://192.168.0.10", "loopback, private"),
        ("https://[::1]", "loopback, private"),
        ("https://[fd00::1]", "loopback, private"),
        ("https://0.0.0.0", "loopback, private"),
        ("https://localhost", "internal host name"),
        ("https://db.localhost", "internal host name"),
        ("https://postgres.cocore.svc", "internal host name"),
        ("https://postgres.cocore.svc.cluster.local", "internal host name"),
        ("https://metadata.google.internal", "internal host name"),
        ("https://postgres", "single-label"),
        ("https://user:pw@pds.example.com", "credentials"),
        ("ftp://pds.example.com", "not an http(s) URL"),
        ("https://", "not an http(s) URL"),
        ("https://pds.example.com:99999", "not a URL"),
    ],
)
def test_private_insecure_or_odd_endpoints_are_refused_with_the_reason(
    endpoint: str, reason: str
) -> None:
    with pytest.raises(UnsafeEndpoint, match=re.escape(reason)) as caught:
        STRICT.check(endpoint)
    assert caught.value.code == "unsafe_pds_endpoint"


def test_operator_allowed_hosts_and_dev_mode() -> None:
    policy = EndpointPolicy.allowing(["http://pds:2583", "pds.internal.example"])
    assert policy.check("http://pds:2583") == "http://pds:2583"
    assert policy.check("https://pds.internal.example/")
    with pytest.raises(UnsafeEndpoint):
        policy.check("http://other:2583")
    with pytest.raises(UnsafeEndpoint, match="credentials"):
        policy.check("http://u:p@pds:2583")
    dev = EndpointPolicy(allow_private=True)
    assert dev.check("http://127.0.0.1:2583")


async def test_the_resolver_refuses_a_document_naming_a_private_pds() -> None:
    did = parse_did("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
    doc: dict[str, Any] = plc_doc(did)
    doc["service"][0]["serviceEndpoint"] = "http://169.254.169.254/latest"

    def directory(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=doc)

    def resolver(**kw: Any) -> IdentityResolver:
        http = httpx.AsyncClient(transport=httpx.MockTransport(directory))
        return IdentityResolver("https://plc.test", clock=FakeClock(), http=http, **kw)

    strict = resolver()
    with pytest.raises(UnsafeEndpoint, match="not https"):
        await strict.pds_endpoint(did)
    assert (await strict.resolve_atproto(did)).pds == "http://169.254.169.254/latest"  # as written
    dev = resolver(allow_insecure_loopback=True)
    assert await dev.pds_endpoint(did) == "http://169.254.169.254/latest"
    allowed = resolver(endpoint_policy=EndpointPolicy.allowing(["169.254.169.254"]))
    assert await allowed.pds_endpoint(did) == "http://169.254.169.254/latest"
