"""Alembic environment of the exchange's database."""

from cocore.storage.migrations import run_env
from services.exchange.db import Base

run_env(Base.metadata)
