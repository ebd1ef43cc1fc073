"""did:plc operations: read a DID's operation log, build and sign an update, submit it.

An update names the CID of the operation it follows (`prev`) and is signed by one of the
DID's current rotation keys over the DAG-CBOR of the unsigned operation: compact r‖s,
low-S, base64url without padding (the did-method-plc spec; `@did-plc/server` checks it).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import httpx

from cocore.crypto import PublicKey
from cocore.errors import InvalidInput
from cocore.syntax import Did, dag_cbor, record_cid

from .errors import AtprotoError, AtprotoUnavailable, BadResponse, DidNotFound
from .keys import AtprotoKey, SigningKey

OPERATION = "plc_operation"
MAX_RESPONSE_BYTES = 256 * 1024


class PlcOperationRefused(AtprotoError, InvalidInput):
    """The operation cannot be built, or the directory refused it (bad signature, stale prev…)."""

    default_code = "plc_operation_refused"


def p256_did_key(key: PublicKey) -> str:
    """A P-256 public key as a `did:key` (compressed point, multicodec p256-pub)."""
    return AtprotoKey("ES256", b"\x04" + key.raw_xy).did_key


def multibase(did_key: str) -> str:
    """The `publicKeyMultibase` of a Multikey verification method for this did:key."""
    assert did_key.startswith("did:key:")
    return did_key.removeprefix("did:key:")


def operation_cid(operation: Mapping[str, Any]) -> str:
    """The CID the PLC directory gives an operation (an update's `prev`)."""
    return str(record_cid(operation))


def update_operation(last: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    """The next unsigned operation: the last one's fields with `changes`, chained by `prev`.

    `changes` may set `rotationKeys`, `verificationMethods`, `alsoKnownAs` or `services`.
    """
    if last.get("type") != OPERATION:
        raise PlcOperationRefused("only a plc_operation can be updated (not a tombstone)")
    unknown = set(changes) - {"rotationKeys", "verificationMethods", "alsoKnownAs", "services"}
    if unknown:
        raise PlcOperationRefused(f"not fields of a PLC operation: {sorted(unknown)}")
    op = {k: v for k, v in last.items() if k != "sig"}
    op.update(changes)
    op["prev"] = operation_cid(last)
    return op


def sign_operation(operation: Mapping[str, Any], key: SigningKey) -> dict[str, Any]:
    """The operation with `sig`: low-S r‖s over its DAG-CBOR, base64url without padding."""
    unsigned = {k: v for k, v in operation.items() if k != "sig"}
    signature = key.sign(dag_cbor(unsigned))
    return {**unsigned, "sig": base64.urlsafe_b64encode(signature).decode().rstrip("=")}


class PlcClient:
    """Reads and writes one PLC directory (`plc_url`)."""

    def __init__(self, plc_url: str, *, http: httpx.AsyncClient | None = None) -> None:
        self.plc_url = plc_url.rstrip("/")
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=10.0, trust_env=False)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def last_operation(self, did: Did) -> dict[str, Any]:
        response = await self._send("GET", f"/{did}/log/last")
        if response.status_code == 404:
            raise DidNotFound(f"the PLC directory has no {did}")
        return _json_object(response, "log/last")

    async def submit(self, did: Did, operation: Mapping[str, Any]) -> None:
        """Post a signed operation; the directory answers 200 once it is in the log."""
        response = await self._send("POST", f"/{did}", json=dict(operation))
        if response.status_code >= 400:
            message = response.text[:200]
            raise PlcOperationRefused(
                f"the PLC directory refused the operation: {message}",
                details={"status": response.status_code},
            )

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, self.plc_url + path, **kwargs)
        except httpx.HTTPError as e:
            raise AtprotoUnavailable(f"PLC directory unreachable ({type(e).__name__})") from e
        if response.status_code >= 500:
            raise AtprotoUnavailable(f"PLC directory answered HTTP {response.status_code}")
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise BadResponse("PLC directory response too large")
        return response


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        value = json.loads(response.content)
    except ValueError as e:
        raise BadResponse(f"PLC {what} is not JSON") from e
    if not isinstance(value, dict):
        raise BadResponse(f"PLC {what} is not a JSON object")
    return value
