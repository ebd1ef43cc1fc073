"""The error ↔ status mapping as pure logic (the live-server path is in test_rpc_server.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from cocore import errors
from cocore.rpc.errors import (
    INTERNAL_MESSAGE,
    STATUS_BY_GROUP,
    error_from_parts,
    error_from_rpc,
    parts_for,
    status_for,
    stringify_details,
)


class InsufficientBalance(errors.FailedPrecondition):
    default_code = "insufficient_balance"


@dataclass
class FakeRpcError:
    """Stands in for grpc.aio.AioRpcError: a status as a client receives it."""

    status_code: grpc.StatusCode
    message: str
    metadata: tuple[tuple[str, Any], ...] = ()

    def code(self) -> grpc.StatusCode:
        return self.status_code

    def details(self) -> str:
        return self.message

    def trailing_metadata(self) -> tuple[tuple[str, Any], ...]:
        return self.metadata


def received(status: grpc.Status) -> FakeRpcError:
    return FakeRpcError(status.code, status.details, tuple(status.trailing_metadata))


def test_every_group_has_a_distinct_status() -> None:
    assert len(set(STATUS_BY_GROUP.values())) == len(STATUS_BY_GROUP) == 9


def test_a_package_error_maps_through_its_group() -> None:
    error = InsufficientBalance("balance too low", details={"shortBy": 120, "floor": 5})
    status = status_for(error)
    assert status.code == grpc.StatusCode.FAILED_PRECONDITION
    rebuilt = error_from_rpc(received(status))
    assert type(rebuilt) is errors.FailedPrecondition
    assert rebuilt.code == "insufficient_balance"
    assert rebuilt.details == {"shortBy": "120", "floor": "5"}


def test_details_are_stringified_as_json_except_strings() -> None:
    details = {"n": 7, "ok": True, "ids": [1, 2], "name": "x", "none": None}
    assert stringify_details(details) == {
        "n": "7",
        "ok": "true",
        "ids": "[1,2]",
        "name": "x",
        "none": "null",
    }


def test_plain_cocore_error_is_internal_and_generic() -> None:
    status = status_for(errors.CocoreError("secret detail", details={"k": "v"}))
    assert (status.code, status.details) == (grpc.StatusCode.INTERNAL, "internal error")
    assert b"secret" not in b"".join(v for _, v in status.trailing_metadata)


def test_garbled_details_still_give_the_group() -> None:
    rpc_error = FakeRpcError(
        grpc.StatusCode.NOT_FOUND, "gone", (("grpc-status-details-bin", b"\xff\x00garbage"),)
    )
    rebuilt = error_from_rpc(rpc_error)
    assert (type(rebuilt), rebuilt.code, rebuilt.message) == (errors.NotFound, "not_found", "gone")


def test_foreign_error_info_is_ignored() -> None:
    info = error_details_pb2.ErrorInfo(reason="QUOTA", domain="googleapis.com")
    packed = any_pb2.Any()
    packed.Pack(info)
    status = status_pb2.Status(code=8, message="quota", details=[packed])
    rpc_error = FakeRpcError(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "quota",
        (("grpc-status-details-bin", status.SerializeToString()),),
    )
    rebuilt = error_from_rpc(rpc_error)
    assert (type(rebuilt), rebuilt.code) == (errors.ResourceExhausted, "resource_exhausted")


def test_unmapped_status_without_details_is_a_plain_cocore_error() -> None:
    rebuilt = error_from_rpc(FakeRpcError(grpc.StatusCode.CANCELLED, ""))
    assert (type(rebuilt), rebuilt.code, rebuilt.message) == (
        errors.CocoreError,
        "internal",
        "internal",
    )


def test_an_error_carried_in_a_message_comes_back_as_a_status_would() -> None:
    """parts_for / error_from_parts: the same group, code, message and details that
    status_for / error_from_rpc give, for every group (a job's end on a shared stream)."""
    for group in STATUS_BY_GROUP:
        sent = group("why", code=f"{group.default_code}_x", details={"n": 3, "s": "t"})
        via_message = error_from_parts(parts_for(sent))
        status = status_for(sent)
        via_status = error_from_rpc(FakeRpcError(status.code, status.details,
                                                 tuple(status.trailing_metadata)))  # fmt: skip
        assert type(via_message) is type(via_status) is group
        seen = (via_message.code, via_message.message, via_message.details)
        assert seen == (via_status.code, via_status.message, via_status.details)
        assert seen == (f"{group.default_code}_x", "why", {"n": "3", "s": "t"})


def test_an_unexpected_error_in_a_message_is_internal_and_says_nothing() -> None:
    parts = parts_for(RuntimeError("secret prompt text"))
    assert (parts.status, parts.code, parts.message) == ("INTERNAL", "internal", INTERNAL_MESSAGE)
    assert "secret" not in repr(parts)
    assert type(error_from_parts(parts)) is errors.CocoreError
