"""`status.json`: what the serving process is doing, rewritten every few seconds, read by
`cocore-provider status` (and `doctor`) from another process."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from .home import Home

STALE_AFTER_S = 30.0


async def write(home: Home, status: dict[str, Any]) -> None:
    await home.save_json(home.status_file, {**status, "pid": os.getpid()})


def read(home: Home) -> dict[str, Any] | None:
    return home.read_json(home.status_file)


def pid_alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_live(status: dict[str, Any] | None, now: datetime) -> bool:
    """The serving process is up and wrote recently."""
    if status is None or status.get("phase") == "stopped" or not pid_alive(status.get("pid")):
        return False
    age = _age_s(status.get("updatedAt"), now)
    return age is not None and age <= STALE_AFTER_S


def describe(status: dict[str, Any] | None, now: datetime) -> list[str]:
    """Human lines for `cocore-provider status`."""
    if status is None:
        return ["not running (no status file: `cocore-provider serve` has never run here)"]
    if not is_live(status, now):
        return [f"not running (last phase {status.get('phase', '?')}, "
                f"updated {status.get('updatedAt', '?')})", *_outbox_lines(status)]  # fmt: skip
    att = status.get("attestation") or {}
    lines = [
        f"phase:        {status.get('phase')} (pid {status.get('pid')})",
        f"provider:     {status.get('did')}  machine {status.get('machineId')}",
        f"matchmaker:   {status.get('matchmaker')}  "
        + ("connected" if status.get("connected") else "NOT connected")
        + (f" ({status['lastError']})" if status.get("lastError") else ""),
        f"jobs running: {status.get('jobsRunning', 0)}",
        f"models:       {', '.join(status.get('models') or []) or '(none loaded)'}",
    ]
    for model, fault in (status.get("faults") or {}).items():
        lines.append(f"  fault:      {model}: {fault}")
    left = _until_s(att.get("expiresAt"), now)
    expiry = "none" if left is None else f"{att.get('expiresAt')} ({left / 3600:.1f} h left)"
    lines.append(f"attestation:  {expiry}" + (f"  renewal failing: {att['fault']}"
                                                if att.get("fault") else ""))  # fmt: skip
    return [*lines, *_outbox_lines(status)]


def _outbox_lines(status: dict[str, Any]) -> list[str]:
    box = status.get("outbox") or {}
    text = (
        f"outbox:       {box.get('pending', 0)} to publish, {box.get('held', 0)} awaiting "
        f"delivery, {box.get('failed', 0)} refused, {box.get('published', 0)} published"
    )
    if box.get("lastError"):
        text += f" (last error {box['lastError']})"
    return [text]


def _age_s(stamp: object, now: datetime) -> float | None:
    moment = _parse(stamp)
    return None if moment is None else (now - moment).total_seconds()


def _until_s(stamp: object, now: datetime) -> float | None:
    moment = _parse(stamp)
    return None if moment is None else (moment - now).total_seconds()


def _parse(stamp: object) -> datetime | None:
    if not isinstance(stamp, str):
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
