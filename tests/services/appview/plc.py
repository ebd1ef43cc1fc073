"""Publish an exchange's `#cocore_exchange` settlement key in its did:plc document.

The test PDS holds the PLC rotation key of the accounts it creates (in its secrets file), so
the test can sign a PLC operation that adds the verification method, as an operator would.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import libipld

from cocore.atproto.keys import AtprotoKey
from cocore.atproto.keys import SigningKey as AtprotoSigningKey
from cocore.crypto import SigningKey
from cocore.syntax import record_cid
from tests.fixtures.atproto import AtprotoStack


def _rotation_key(stack: AtprotoStack) -> AtprotoSigningKey:
    for line in (stack.state_dir / "secrets.env").read_text().splitlines():
        name, _, value = line.partition("=")
        if name == "PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX":
            return AtprotoSigningKey.from_private_bytes("ES256K", bytes.fromhex(value.strip()))
    raise AssertionError("the PDS secrets hold no PLC rotation key")


def did_key(key: SigningKey) -> str:
    raw = b"\x04" + base64.b64decode(key.public_key.to_cocore_b64())
    return AtprotoKey("ES256", raw).did_key


async def add_exchange_key(stack: AtprotoStack, did: str, key: SigningKey) -> None:
    async with httpx.AsyncClient(base_url=stack.plc_url) as http:
        last = (await http.get(f"/{did}/log/last")).raise_for_status().json()
        op: dict[str, Any] = {
            "type": "plc_operation",
            "rotationKeys": last["rotationKeys"],
            "verificationMethods": {**last["verificationMethods"], "cocore_exchange": did_key(key)},
            "alsoKnownAs": last["alsoKnownAs"],
            "services": last["services"],
            "prev": str(record_cid(last)),
        }
        signature = _rotation_key(stack).sign(libipld.encode_dag_cbor(op))
        op["sig"] = base64.urlsafe_b64encode(signature).decode().rstrip("=")
        (await http.post(f"/{did}", json=op)).raise_for_status()
