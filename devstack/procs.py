"""Process identity: a PID plus its start time names one process (no PID reuse)."""

from __future__ import annotations

from pathlib import Path


def process_start(pid: int) -> str:
    """When the process started (clock ticks since boot): with the PID, a unique identity."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]
