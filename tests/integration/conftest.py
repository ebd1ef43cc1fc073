"""Fixtures the matchmaker integration files share (each file supplies its own `matchmaker`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.matchmaker.server import MatchmakerService

from .matchmaker_kit import Requester


@pytest.fixture
async def requester(matchmaker: MatchmakerService) -> AsyncIterator[Requester]:
    """Plays the gateway against this file's matchmaker."""
    client = Requester(matchmaker.address)
    yield client
    await client.aclose()
