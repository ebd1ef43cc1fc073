"""Dispatch: run a sealed job on a provider (here or on its owning replica), with failover."""
