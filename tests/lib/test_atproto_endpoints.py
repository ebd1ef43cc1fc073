"""PDS endpoints from DID documents: public https only, unless the operator allows a host."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from typing import Any

import httpx
import pytest

from cocore.atproto import (
    AtprotoError,
    EndpointPolicy,
    GuardedTransport,
    IdentityResolver,
    UnsafeEndpoint,
    XrpcClient,
    system_resolve,
)
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


# ---------------------------------------------------------------- what a name resolves to


def resolving(*addresses: str, calls: list[str] | None = None) -> EndpointPolicy:
    async def resolve(host: str, port: int) -> list[str]:
        assert (host, port) == ("pds.example.com", 443)
        if calls is not None:
            calls.append(host)
        return list(addresses)

    return EndpointPolicy(resolve=resolve)


@pytest.mark.parametrize(
    "addresses",
    [
        ("10.0.0.5",),
        ("169.254.169.254",),  # cloud metadata behind a public-looking name
        ("127.0.0.1",),
        ("::1",),
        ("fe80::1%eth0",),
        ("93.184.216.34", "192.168.1.1"),  # one private answer is enough
    ],
)
async def test_a_public_name_resolving_to_a_private_address_is_refused(
    addresses: tuple[str, ...],
) -> None:
    with pytest.raises(UnsafeEndpoint, match="resolves to a loopback, private") as caught:
        await resolving(*addresses).address("https://pds.example.com/")
    assert caught.value.code == "unsafe_pds_endpoint"


async def test_a_public_name_gets_the_first_address_it_resolves_to() -> None:
    policy = resolving("93.184.216.34", "2606:2800:220:1::1")
    assert await policy.address("https://pds.example.com") == "93.184.216.34"


async def test_names_trusted_as_written_are_not_resolved() -> None:
    async def never(host: str, port: int) -> list[str]:
        raise AssertionError(f"resolved {host}")

    allowed = EndpointPolicy(allowed_hosts=frozenset({"pds"}), resolve=never)
    assert await allowed.address("http://pds:2583") is None
    dev = EndpointPolicy(allow_private=True, resolve=never)
    assert await dev.address("http://127.0.0.1") is None
    assert await EndpointPolicy(resolve=never).address("https://93.184.216.34") is None
    with pytest.raises(UnsafeEndpoint, match="not https"):  # `check` still comes first
        await EndpointPolicy(resolve=never).address("http://pds.example.com")


async def test_a_name_that_does_not_resolve_is_unavailable_not_unsafe() -> None:
    async def fails(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(AtprotoError, match="cannot resolve") as caught:
        await EndpointPolicy(resolve=fails).address("https://pds.example.com")
    assert not isinstance(caught.value, UnsafeEndpoint)


async def test_the_system_resolver_answers_with_addresses() -> None:
    found = await system_resolve("localhost", 443)
    assert found and all(ipaddress.ip_address(a).is_loopback for a in found)


async def test_the_guarded_transport_connects_to_the_checked_address_under_the_name() -> None:
    sent: list[httpx.Request] = []

    def wire(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    calls: list[str] = []
    clock = FakeClock()
    transport = GuardedTransport(
        resolving("93.184.216.34", calls=calls), ttl_s=60, clock=clock,
        inner=httpx.MockTransport(wire),
    )  # fmt: skip
    async with XrpcClient("https://pds.example.com", transport=transport) as xrpc:
        assert await xrpc.query("com.atproto.server.describeServer") == {}
        await xrpc.query("com.atproto.server.describeServer")
        assert calls == ["pds.example.com"]  # the answer is kept…
        clock.now += 61
        await xrpc.query("com.atproto.server.describeServer")
        assert calls == ["pds.example.com"] * 2  # …then resolved and checked again
    first = sent[0]
    assert first.url.host == "93.184.216.34" and first.url.path.endswith("describeServer")
    assert first.headers["host"] == "pds.example.com"
    assert first.extensions["sni_hostname"] == "pds.example.com"


async def test_the_guarded_transport_refuses_before_connecting() -> None:
    def wire(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"connected to {request.url}")

    transport = GuardedTransport(resolving("10.0.0.5"), inner=httpx.MockTransport(wire))
    async with XrpcClient("https://pds.example.com", transport=transport) as xrpc:
        with pytest.raises(UnsafeEndpoint, match="resolves to a loopback"):
            await xrpc.query("com.atproto.server.describeServer")


async def test_a_dev_policy_transport_reaches_a_real_server_by_name() -> None:
    """On loopback (dev mode) the transport passes requests through unchanged."""
    seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: application/json"
                     b"\r\n\r\n{}")  # fmt: skip
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        transport = GuardedTransport(EndpointPolicy(allow_private=True))
        async with XrpcClient(f"http://127.0.0.1:{port}", transport=transport) as xrpc:
            assert await xrpc.query("com.atproto.server.describeServer") == {}
        strict = GuardedTransport(EndpointPolicy())
        async with XrpcClient(f"http://127.0.0.1:{port}", transport=strict) as xrpc:
            with pytest.raises(UnsafeEndpoint, match="not https"):
                await xrpc.query("com.atproto.server.describeServer")
    finally:
        server.close()
        await server.wait_closed()
    assert len(seen) == 1 and seen[0].startswith(b"GET /xrpc/com.atproto.server.describeServer ")
