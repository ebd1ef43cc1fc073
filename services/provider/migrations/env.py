"""Alembic environment of the provider agent's local database (the receipt outbox)."""

from cocore.storage.migrations import run_env
from services.provider.db import Base

run_env(Base.metadata)
