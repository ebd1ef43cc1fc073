"""The outbox's states and the publisher's retry policy (a fake PDS client: pure logic)."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cocore.atproto import AtprotoUnavailable, WriteResult, XrpcInvalidRequest
from cocore.storage import DuplicateKey
from cocore.syntax import parse_at_uri, parse_cid
from services.provider.outbox import Outbox, Publisher
from services.provider.records.pricing import TokenRate
from services.provider.records.receipt import SignedReceipt, build_receipt

from . import factory as f
from .test_records import served


class FlakyPds:
    """put_record fails with the queued errors, then succeeds; a batch is always refused."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0
        self.batches = 0

    async def apply_writes(self, writes: Any) -> list[WriteResult]:
        self.batches += 1
        raise XrpcInvalidRequest(400, "InvalidRequest", "a record already exists")

    async def put_record(self, collection: Any, rkey: Any, record: dict[str, Any]) -> WriteResult:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        from cocore.syntax import record_cid

        uri = f"at://{f.PROVIDER}/{collection}/{rkey}"
        return WriteResult(parse_at_uri(uri), parse_cid(str(record_cid(record))))


def receipt(tmp_path: Path) -> SignedReceipt:
    kd = f.keys(tmp_path)
    return build_receipt(served(f.job_record(b"p")), TokenRate(1, 1, "CC"), f.attestation(kd),
                         f.PROVIDER, kd.signing)  # fmt: skip


async def test_held_receipts_wait_for_delivery_and_a_restart_forgets_them(tmp_path: Path) -> None:
    now = [f.T0]
    box = await Outbox.open(tmp_path / "o.sqlite", lambda: now[0])
    first, second, third = receipt(tmp_path), receipt(tmp_path), receipt(tmp_path)
    for r in (first, second, third):
        await box.hold(r)
    await box.release(first.rkey, delivered=True)
    await box.release(second.rkey, delivered=False)
    assert await box.counts() == {"pending": 1, "held": 1}
    assert [r.rkey for r in await box.due()] == [first.rkey]
    await box.close()
    reopened = await Outbox.open(tmp_path / "o.sqlite", lambda: now[0])
    assert await reopened.drop_held() == 1  # third's delivery was never learned
    assert await reopened.counts() == {"pending": 1}
    await reopened.close()


async def test_a_held_row_reads_back_as_written_and_a_second_hold_changes_nothing(
    tmp_path: Path,
) -> None:
    now = [f.T0 + timedelta(microseconds=123_456)]
    box = await Outbox.open(tmp_path / "o.sqlite", lambda: now[0])
    held = receipt(tmp_path)
    await box.hold(held)  # straight through the driver, encoded by the column types
    row = await box.get(held.rkey)  # read back through the ORM
    assert row is not None
    assert (row.uri, row.cid, row.record, row.state, row.attempts, row.last_error) == (
        held.uri, held.cid, held.record, "held", 0, "")  # fmt: skip
    assert row.next_attempt_at == row.created_at == row.updated_at == now[0]
    with pytest.raises(DuplicateKey):
        await box.hold(held)
    assert await box.counts() == {"held": 1}
    earlier = receipt(tmp_path)
    now[0] -= timedelta(microseconds=1)
    await box.hold(earlier)  # held later, created a microsecond earlier by the clock
    for r in (held, earlier):
        await box.release(r.rkey, delivered=True)
    assert [r.rkey for r in await box.due()] == [earlier.rkey, held.rkey]  # by created_at
    await box.close()


async def test_the_publisher_retries_blips_with_backoff_and_parks_refusals(tmp_path: Path) -> None:
    now = [f.T0]
    box = await Outbox.open(tmp_path / "o.sqlite", lambda: now[0])
    good, bad = receipt(tmp_path), receipt(tmp_path)
    for r in (good, bad):
        await box.hold(r)
        await box.release(r.rkey, delivered=True)
    pds = FlakyPds(AtprotoUnavailable("down"), XrpcInvalidRequest(400, "InvalidRequest", "no"),
                   AtprotoUnavailable("down"))  # fmt: skip
    publisher = Publisher(box, pds, backoff_initial_s=1, rng=random.Random(1))  # type: ignore[arg-type]
    assert await publisher.publish_due() == 0
    rows = {r: await box.get(r) for r in (good.rkey, bad.rkey)}
    assert rows[good.rkey].state == "pending" and rows[good.rkey].attempts == 1  # type: ignore[union-attr]
    assert rows[bad.rkey].state == "failed"  # type: ignore[union-attr]
    assert await publisher.publish_due() == 0  # not due yet: backing off
    now[0] += timedelta(seconds=2)
    assert await publisher.publish_due() == 0  # the second blip doubles the delay
    row = await box.get(good.rkey)
    assert row is not None and row.next_attempt_at - now[0] >= timedelta(seconds=1.5)
    now[0] += timedelta(seconds=5)
    assert await publisher.publish_due() == 1 and pds.calls == 4
    assert pds.batches == 1  # both were fresh once: one batch, refused, then one by one
    assert await box.counts() == {"published": 1, "failed": 1}
    await box.close()


async def test_the_migrations_create_exactly_the_models_tables(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from services.provider.db import Base

    box = await Outbox.open(tmp_path / "o.sqlite", lambda: f.T0)
    try:
        with box.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        await box.close()
    assert diff == []
    assert oct((tmp_path / "o.sqlite").stat().st_mode & 0o777) == "0o600"
