"""verifyReceipt / verifySettlement: the library verifiers over indexed (or fetched) records.

Trust level is `self-attested` always: this AppView does not evaluate Apple hardware
evidence, so it never claims more. Settlement signatures are checked against the exchange's
`#cocore_exchange` key from its DID document, and the fee against the pinned policy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cocore.atproto import AtprotoError, IdentityResolver, exchange_settlement_key
from cocore.crypto import PublicKey
from cocore.lexicon import ids
from cocore.syntax import AtUri, Nsid, parse_at_uri, parse_did
from cocore.verify import (
    Finding,
    Severity,
    StrictOptions,
    verify_receipt_strict,
    verify_settlement,
)
from cocore.verify.binding import check_strong_ref
from cocore.verify.findings import Findings

from .errors import InvalidRequest, RecordNotFound
from .fees import check_fee
from .fetch import RecordFetcher
from .read import RecordReader

TRUST_LEVEL = "self-attested"
_SEVERITY = {Severity.ERROR: "error", Severity.WARN: "warning", Severity.INFO: "info"}


def finding_json(f: Finding) -> dict[str, str]:
    """The lexicon's verifyFinding (its severity says `warning` where the library says `warn`)."""
    return {"severity": _SEVERITY[f.severity], "code": f.code, "message": f.message}


class Verifier:
    def __init__(
        self, reader: RecordReader, fetcher: RecordFetcher, resolver: IdentityResolver
    ) -> None:
        self._reader, self._fetcher, self._resolver = reader, fetcher, resolver

    async def verify_receipt_json(self, p: dict[str, Any]) -> dict[str, Any]:
        uri, receipt = await self._indexed(p["uri"], ids.COMPUTE_RECEIPT)
        job = await self._fetcher.by_ref(receipt.get("job"), ids.COMPUTE_JOB, "job")
        attestation = await self._fetcher.by_ref(
            receipt.get("attestation"), ids.COMPUTE_ATTESTATION, "attestation"
        )
        verdict = verify_receipt_strict(receipt, job, attestation, StrictOptions(receipt_uri=uri))
        return {
            "ok": verdict.ok,
            "trustLevel": TRUST_LEVEL,
            "findings": [finding_json(f) for f in verdict.findings],
        }

    async def verify_settlement_json(self, p: dict[str, Any]) -> dict[str, Any]:
        uri, settlement = await self._indexed(p["uri"], ids.COMPUTE_SETTLEMENT)
        receipt_ref = settlement.get("receipt")
        receipt = await self._fetcher.by_ref(receipt_ref, ids.COMPUTE_RECEIPT, "receipt")
        auth_ref = settlement.get("requesterAuthorization")
        auth = await self._fetcher.by_ref(
            auth_ref, ids.COMPUTE_PAYMENT_AUTHORIZATION, "authorization"
        )
        out = Findings()
        key = await self._exchange_key(uri, out)
        verdict = verify_settlement(
            settlement, receipt, auth, publisher_did=uri.repo, exchange_key=key
        )
        for f in verdict.findings:
            if not (key is None and f.code == "signature-unchecked"):
                out.add(f)
        await self._check_fee(settlement, receipt, out)
        findings = out.verdict()
        return {"ok": findings.ok, "findings": [finding_json(f) for f in findings.findings]}

    async def _indexed(self, text: str, nsid: Nsid) -> tuple[AtUri, dict[str, Any]]:
        uri = parse_at_uri(text)
        if uri.collection != nsid:
            raise InvalidRequest(f"uri must name a {nsid} record")
        record = await self._reader.get(nsid, uri)
        if record is None:
            raise RecordNotFound(f"{uri} is not indexed")
        return uri, json.loads(record.body)

    async def _exchange_key(self, uri: AtUri, out: Findings) -> PublicKey | None:
        try:
            doc = await self._resolver.resolve_did(parse_did(uri.repo))
        except AtprotoError as e:
            out.error("exchange-key-unavailable", f"cannot resolve the exchange's DID: {e.message}")
            return None
        key = exchange_settlement_key(doc)
        if key is None:
            out.error(
                "exchange-key-unavailable",
                "the exchange's DID document publishes no #cocore_exchange settlement key",
            )
        return key

    async def _check_fee(
        self, settlement: Mapping[str, Any], receipt: Mapping[str, Any], out: Findings
    ) -> None:
        if "policy" not in settlement:
            out.warn("fee-unchecked", "the settlement pins no exchangePolicy")
            return
        policy = await self._fetcher.by_ref(
            settlement.get("policy"), ids.COMPUTE_EXCHANGE_POLICY, "policy"
        )
        check_strong_ref(
            out, "policy-cid-mismatch", label="policy", ref=settlement.get("policy"),
            nsid=ids.COMPUTE_EXCHANGE_POLICY, record=policy,
        )  # fmt: skip
        receipt_uri = parse_at_uri(settlement["receipt"]["uri"])
        auth_uri = parse_at_uri(settlement["requesterAuthorization"]["uri"])
        finding = check_fee(
            settlement, policy,
            self_loop=receipt_uri.repo == auth_uri.repo,
            pro_bono=receipt.get("proBono") is True,
        )  # fmt: skip
        if finding is not None:
            out.add(finding)
