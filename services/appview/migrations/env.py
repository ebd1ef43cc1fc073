"""Alembic environment for the AppView's database."""

from cocore.storage.migrations import run_env
from services.appview.db import Base

run_env(Base.metadata)
