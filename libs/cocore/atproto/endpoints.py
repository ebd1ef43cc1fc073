"""Which PDS endpoints a service may call: a DID document is anyone's to write.

A service that fetches from "the PDS in the repo's DID document" would otherwise request any
URL a stranger publishes: the cloud metadata address, a database port, a cluster-internal
service (server-side request forgery). The policy accepts `https` endpoints on public hosts;
loopback, private, link-local and reserved addresses, `localhost`, single-label names and
cluster-internal suffixes are refused unless the operator allows them by host (their own
PDS inside the cluster) or the whole service runs in dev mode on loopback.

A name is judged twice: as written (`check`), then by what it resolves to (`address`, which
`GuardedTransport` applies to every request): every address must be public, and the
connection goes to the address that was checked (with the name as Host and TLS server
name), so a second DNS answer cannot point it elsewhere (rebinding). The Kubernetes
NetworkPolicies limit egress as the line behind this one.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from cocore.errors import PermissionDenied

from .errors import AtprotoError

_INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".svc", ".cluster.local", ".arpa")


class UnsafeEndpoint(AtprotoError, PermissionDenied):
    """A DID document names a PDS endpoint this service will not call."""

    default_code = "unsafe_pds_endpoint"


# host, port → the addresses a connection may use (getaddrinfo's order).
Resolve = Callable[[str, int], Awaitable[Sequence[str]]]


async def system_resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True, slots=True)
class EndpointPolicy:
    """`allow_private`: anything goes (dev stacks on loopback). `allowed_hosts`: host names
    (lower case) accepted over http or https whatever their address."""

    allow_private: bool = False
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)
    resolve: Resolve = system_resolve

    @classmethod
    def allowing(
        cls, urls_or_hosts: Iterable[str], *, allow_private: bool = False
    ) -> EndpointPolicy:
        """A policy allowing the hosts of these URLs (or bare host names) by name."""
        hosts = {_host(u) for u in urls_or_hosts}
        return cls(allow_private, frozenset(h for h in hosts if h))

    def check(self, endpoint: str) -> str:
        """`endpoint` if this service may call it; `UnsafeEndpoint` (naming why) if not."""
        problem = self._problem(endpoint)
        if problem is not None:
            raise UnsafeEndpoint(
                f"PDS endpoint {endpoint[:100]!r} refused: {problem}",
                details={"reason": problem},
            )
        return endpoint

    async def address(self, endpoint: str) -> str | None:
        """`check`, then, for a name this policy does not trust as written, the address to
        connect to: `UnsafeEndpoint` if any address the name resolves to is not public. None:
        connect by name (an allowed host, dev mode, a literal address `check` has judged)."""
        self.check(endpoint)
        parts = urlsplit(endpoint)
        host = (parts.hostname or "").lower()
        if self.allow_private or host in self.allowed_hosts or _ip(host) is not None:
            return None
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = list(await self.resolve(host, port))
        except OSError as e:
            raise AtprotoError(f"cannot resolve the PDS host {host[:100]!r} ({e})") from e
        if not addresses:
            raise AtprotoError(f"the PDS host {host[:100]!r} resolves to no address")
        for address in addresses:
            problem = _private_host(address)  # the same judgement as for a literal address
            if problem is not None:
                problem = f"its name resolves to {problem}"
                raise UnsafeEndpoint(
                    f"PDS endpoint {endpoint[:100]!r} refused: {problem}",
                    details={"reason": problem},
                )
        return addresses[0]

    def _problem(self, endpoint: str) -> str | None:
        try:
            parts = urlsplit(endpoint)
            host = (parts.hostname or "").lower()
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            return "not a URL"
        if parts.scheme not in ("http", "https") or not host:
            return "not an http(s) URL"
        if parts.username is not None or parts.password is not None:
            return "credentials in the URL"
        if self.allow_private or host in self.allowed_hosts:
            return None
        if parts.scheme != "https":
            return "not https"
        return _private_host(host)


class GuardedTransport(httpx.AsyncBaseTransport):
    """Every request goes through `policy.address`: a name the policy does not trust as
    written is resolved and checked, and the connection goes to the address that was checked
    (the Host header, set when the request was built, and the TLS server name, which the
    certificate is checked against, stay the name). Answers are kept `ttl_s`, then resolved
    and checked again; one transport per client (a client closes its transport)."""

    def __init__(
        self,
        policy: EndpointPolicy,
        *,
        ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        inner: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._policy, self._ttl_s, self._clock = policy, ttl_s, clock
        self._inner = inner or httpx.AsyncHTTPTransport(trust_env=False)
        self._answers: dict[str, tuple[str | None, float]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        answer = self._answers.get(origin)
        if answer is None or answer[1] <= self._clock():
            answer = (await self._policy.address(origin), self._clock() + self._ttl_s)
            self._answers[origin] = answer
        address = answer[0]
        if address is not None:
            request.url = url.copy_with(host=address)
            request.extensions = {**request.extensions, "sni_hostname": url.host}
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """`host` as an address (a zone index, `fe80::1%eth0`, dropped), or None for a name."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def _private_host(host: str) -> str | None:
    address = _ip(host)
    if address is None:
        if host == "localhost" or host.endswith(_INTERNAL_SUFFIXES):
            return "an internal host name"
        if "." not in host:
            return "a single-label host name (resolved by local search domains)"
        return None
    if not address.is_global:
        return "a loopback, private, link-local or reserved address"
    return None


def _host(url_or_host: str) -> str:
    if "://" not in url_or_host:
        return url_or_host.strip().lower()
    try:
        return (urlsplit(url_or_host).hostname or "").lower()
    except ValueError:
        return ""
