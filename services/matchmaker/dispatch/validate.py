"""Bounds on a Dispatch request, checked before any provider hears of it."""

from __future__ import annotations

from cocore.canonical import CanonicalError, loads_strict
from cocore.crypto import CryptoError, parse_seal_scheme
from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from cocore.syntax import InvalidSyntaxError, parse_at_uri, parse_cid, parse_did

from ..errors import DispatchInvalid
from ..settings import JobSettings

INPUT_FORMATS = ("", "text", "messages-v1")
TOOL_CHOICES = ("", "auto", "none", "required")
MAX_STOP = 16


def validate_dispatch(request: pb.DispatchRequest, s: JobSettings, *, single: bool) -> None:
    attempts = request.attempts
    if not attempts or len(attempts) > (1 if single else s.max_attempts):
        raise DispatchInvalid(f"between 1 and {s.max_attempts} attempts")
    if request.presealed:
        raise DispatchInvalid("presealed inputs go with a pick, not with attempts")
    _spec(request.spec, s)
    for attempt in attempts:
        _sealed(attempt, s)


def validate_pick_dispatch(request: pb.DispatchRequest, s: JobSettings) -> None:
    """A Dispatch that picks first: no attempts yet, the pick matching the spec."""
    if request.attempts:
        raise DispatchInvalid("a Dispatch with a pick carries no attempts (they follow it)")
    if len(request.presealed) > s.max_attempts:
        raise DispatchInvalid(f"at most {s.max_attempts} presealed inputs")
    _spec(request.spec, s)
    pick, spec = request.pick, request.spec
    if pick.model != spec.model or pick.requester_did != spec.requester_did:
        raise DispatchInvalid("pick.model and pick.requester_did must match the spec")
    for sealed in request.presealed:
        if not sealed.did or not sealed.machine_id or not sealed.encryption_pub_key:
            raise DispatchInvalid("a presealed input names its machine and key")
        _sealed(sealed, s)


def _sealed(sealed: pb.Attempt | pb.Presealed, s: JobSettings) -> None:
    if not sealed.sealed_input or len(sealed.sealed_input) > s.max_input_bytes:
        raise DispatchInvalid(
            f"sealed_input must be 1..{s.max_input_bytes} bytes", code="input_too_large"
        )
    if not sealed.requester_pub_key or len(sealed.requester_pub_key) > 128:
        raise DispatchInvalid("requester_pub_key is required")
    _scheme(sealed.enc_scheme)


def _spec(spec: pb.JobSpec, s: JobSettings) -> None:
    try:
        parse_did(spec.requester_did)
        for ref in (spec.job, spec.authorization):
            if ref.uri or ref.cid:
                parse_at_uri(ref.uri)
                parse_cid(ref.cid)
    except InvalidSyntaxError as e:
        raise DispatchInvalid(str(e)) from None
    if not spec.model or len(spec.model) > 256:
        raise DispatchInvalid("model is required (at most 256 characters)")
    if spec.input_format not in INPUT_FORMATS:
        raise DispatchInvalid(f"input_format must be one of {INPUT_FORMATS[1:]}")
    if spec.tool_choice not in TOOL_CHOICES or len(spec.tool_choice_function) > 256:
        raise DispatchInvalid("tool_choice must be auto, none or required")
    if len(spec.stop) > MAX_STOP or any(len(stop) > 256 for stop in spec.stop):
        raise DispatchInvalid(f"at most {MAX_STOP} stop sequences of 256 characters")
    if spec.sampling.max_tokens < 1:
        raise DispatchInvalid("sampling.max_tokens must be at least 1")
    for name in ("tools_json", "output_schema_json"):
        _json(getattr(spec, name), name, s.max_spec_json_bytes)


def _json(raw: bytes, name: str, limit: int) -> None:
    if not raw:
        return
    if len(raw) > limit:
        raise DispatchInvalid(f"{name} is larger than {limit} bytes")
    try:
        loads_strict(raw.decode("utf-8"))
    except (CanonicalError, UnicodeDecodeError):
        raise DispatchInvalid(f"{name} is not strict JSON") from None


def _scheme(value: str) -> None:
    try:
        parse_seal_scheme(value or None)
    except CryptoError as e:
        raise DispatchInvalid(str(e)) from None
