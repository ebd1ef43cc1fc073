"""Alembic environment for the matchmaker's database."""

from cocore.storage.migrations import run_env
from services.matchmaker.db import Base

run_env(Base.metadata)
