"""Which PDS endpoints a service may call: a DID document is anyone's to write.

A service that fetches from "the PDS in the repo's DID document" would otherwise request any
URL a stranger publishes: the cloud metadata address, a database port, a cluster-internal
service (server-side request forgery). The policy accepts `https` endpoints on public hosts;
loopback, private, link-local and reserved addresses, `localhost`, single-label names and
cluster-internal suffixes are refused unless the operator allows them by host (their own
PDS inside the cluster) or the whole service runs in dev mode on loopback.

Names are judged as written: a public name that resolves to a private address is not caught
here (the Kubernetes NetworkPolicies limit egress as the second line).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cocore.errors import PermissionDenied

from .errors import AtprotoError

_INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".svc", ".cluster.local", ".arpa")


class UnsafeEndpoint(AtprotoError, PermissionDenied):
    """A DID document names a PDS endpoint this service will not call."""

    default_code = "unsafe_pds_endpoint"


@dataclass(frozen=True, slots=True)
class EndpointPolicy:
    """`allow_private`: anything goes (dev stacks on loopback). `allowed_hosts`: host names
    (lower case) accepted over http or https whatever their address."""

    allow_private: bool = False
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)

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


def _private_host(host: str) -> str | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
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
