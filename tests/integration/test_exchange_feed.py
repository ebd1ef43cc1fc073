"""Receipts from the AppView's feed: with an AppView configured (and no firehose of its own)
the exchange settles a receipt nobody sent it, exactly once, and keeps its feed position."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from cocore.proto.appview.v1 import appview_pb2 as apb
from cocore.storage import sqlite_url
from services.exchange import db
from services.exchange.feed import receipts_of
from services.exchange.server import build
from tests.fixtures.atproto import AtprotoStack
from tests.integration.test_exchange_identity import exchange_config
from tests.integration.test_exchange_pds import Stage
from tests.services.appview import harness

pytestmark = pytest.mark.pds


async def test_a_receipt_from_the_appview_feed_is_settled_once(
    atproto_stack: AtprotoStack, tmp_path: Path
) -> None:
    async with harness.running(atproto_stack, sqlite_url(tmp_path / "appview.db")) as appview:
        address = f"127.0.0.1:{appview.grpc.port}"
        config = exchange_config(atproto_stack, tmp_path, appview_address=address)
        assert config.receipt_firehoses == ()  # the feed replaces the PDS firehose
        app = await build(config)
        s = Stage(app, await atproto_stack.create_account(), await atproto_stack.create_account(),
                  atproto_stack)  # fmt: skip
        try:
            await s.publish(s.provider_account.client, s.provider.attestation)
            bundle = s.factory.bundle(s.requester.client.did, s.provider, tokens_in=5,
                                      tokens_out=9)  # fmt: skip
            await s.publish_bundle(bundle)  # nobody calls Settle: only the feed can bring it
            found = None
            for _ in range(200):
                settled = db.SETTLEMENTS.c.receipt_uri == str(bundle.receipt_uri)
                async with app.exchange.db.session() as session:
                    found = (await session.execute(
                        select(db.SETTLEMENTS.c.uri).where(settled))).all()  # fmt: skip
                    cursor = (await session.execute(select(db.CURSORS.c.cursor).where(
                        db.CURSORS.c.source == f"appview:{address}"))).scalar()  # fmt: skip
                if found and cursor:
                    break
                await asyncio.sleep(0.2)
            assert found and len(found) == 1, "the feed's receipt was never settled"
            assert cursor and cursor > 0
        finally:
            await s.channel.close()
            await app.stop()


def test_only_created_or_updated_receipts_are_settleable() -> None:
    def event(action: int, collection: str, body: bytes) -> apb.RecordEvent:
        rec = apb.RecordEvent(seq=1, action=action)  # type: ignore[arg-type]
        rec.record.uri = f"at://did:plc:abcdefghijklmnopqrstuvwx/{collection}/3kabcdefghi22"
        rec.record.collection, rec.record.record, rec.record.cid = collection, body, "bafy"
        return rec

    receipt = "dev.cocore.compute.receipt"
    ok = receipts_of(event(apb.RecordEvent.ACTION_CREATE, receipt, b'{"a": 1}'))
    assert len(ok) == 1 and ok[0].record == {"a": 1} and ok[0].cid == "bafy"
    assert receipts_of(event(apb.RecordEvent.ACTION_UPDATE, receipt, b'{"a": 2}'))
    assert receipts_of(event(apb.RecordEvent.ACTION_DELETE, receipt, b"")) == []
    assert receipts_of(event(apb.RecordEvent.ACTION_CREATE, "dev.cocore.compute.job", b"{}")) == []
    assert receipts_of(event(apb.RecordEvent.ACTION_CREATE, receipt, b"[1]")) == []
    assert receipts_of(event(apb.RecordEvent.ACTION_CREATE, receipt, b"{not json")) == []
