"""Alembic environment for the gateway's database."""

from cocore.storage.migrations import run_env
from services.gateway.db import Base

run_env(Base.metadata)
