"""Fixtures the matchmaker integration files share: a matchmaker on the test's PDS (a file
that needs other settings defines its own `matchmaker`) and a requester playing the gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.matchmaker.server import MatchmakerService
from tests.fixtures.atproto import AtprotoStack

from .matchmaker_kit import Requester, matchmaker_config, running_matchmaker


@pytest.fixture
async def matchmaker(
    atproto_stack: AtprotoStack, tmp_path: Path
) -> AsyncIterator[MatchmakerService]:
    async with running_matchmaker(matchmaker_config(atproto_stack, tmp_path / "mm.sqlite")) as s:
        yield s


@pytest.fixture
async def requester(matchmaker: MatchmakerService) -> AsyncIterator[Requester]:
    """Plays the gateway against this file's matchmaker."""
    client = Requester(matchmaker.address)
    yield client
    await client.aclose()
