"""What this machine can honestly say about itself: measured values, or None when not measured.

On macOS it reads `sw_vers`, `sysctl`, `csrutil` and `ioreg`; on Linux `/proc`, `/etc` and
`/sys`. Nothing here guesses a security property: a value that could not be read is None, and
the attestation turns None into `false` (never `true`) or leaves an optional field out.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Run = Callable[[list[str]], str | None]


def run_command(argv: list[str]) -> str | None:
    """A short system command's stdout, or None if it is missing or fails."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)  # noqa: S603
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


@dataclass(frozen=True, slots=True)
class HostFacts:
    system: str  # "Darwin" | "Linux" | …
    os_version: str  # "macOS 14.5" | "Linux 6.8.0 (Debian GNU/Linux 12)"
    chip: str
    hardware_model: str  # "Mac15,3" on macOS, the DMI product name or the architecture elsewhere
    model_identifier: str | None  # Apple model code; None off macOS
    ram_gb: int
    cpu_cores: int
    serial: str | None  # hardware serial (macOS) or the OS machine id (Linux)
    machine_uuid: str | None  # binds the credentials key to this machine
    sip_enabled: bool | None  # measured by csrutil; None off macOS
    authenticated_root: bool | None


def measure(run: Run = run_command, root: Path = Path("/")) -> HostFacts:
    if platform.system() == "Darwin":
        return _macos(run)
    return _linux(root)


def measure_sip(run: Run = run_command) -> bool | None:
    """SIP as `csrutil` reports it right now (macOS); None where it cannot be measured."""
    if platform.system() != "Darwin":
        return None
    return _enabled(run(["csrutil", "status"]))


def _macos(run: Run) -> HostFacts:
    version = (run(["sw_vers", "-productVersion"]) or "").strip()
    model = (run(["sysctl", "-n", "hw.model"]) or "").strip()
    chip = (run(["sysctl", "-n", "machdep.cpu.brand_string"]) or "").strip()
    memsize = (run(["sysctl", "-n", "hw.memsize"]) or "0").strip()
    ioreg = run(["ioreg", "-rd1", "-c", "IOPlatformExpertDevice"]) or ""
    return HostFacts(
        system="Darwin",
        os_version=f"macOS {version}" if version else "macOS",
        chip=chip or "Apple silicon",
        hardware_model=model or "Mac",
        model_identifier=model or None,
        ram_gb=max(1, round(int(memsize) / 2**30)) if memsize.isdigit() else 1,
        cpu_cores=os.cpu_count() or 1,
        serial=_ioreg_value(ioreg, "IOPlatformSerialNumber"),
        machine_uuid=_ioreg_value(ioreg, "IOPlatformUUID"),
        sip_enabled=_enabled(run(["csrutil", "status"])),
        authenticated_root=_enabled(run(["csrutil", "authenticated-root", "status"])),
    )


def _linux(root: Path) -> HostFacts:
    machine_id = _read(root / "etc/machine-id") or _read(root / "var/lib/dbus/machine-id")
    return HostFacts(
        system=platform.system() or "Linux",
        os_version=_linux_version(root),
        chip=_cpu_model(root) or platform.machine() or "unknown",
        hardware_model=_read(root / "sys/class/dmi/id/product_name") or platform.machine(),
        model_identifier=None,
        ram_gb=_ram_gb(root),
        cpu_cores=os.cpu_count() or 1,
        serial=machine_id,
        machine_uuid=machine_id,
        sip_enabled=None,
        authenticated_root=None,
    )


def _enabled(output: str | None) -> bool | None:
    """csrutil's "…status: enabled." → True, "disabled" → False, anything else unmeasured."""
    if output is None:
        return None
    match = re.search(r"status:\s*(enabled|disabled)", output)
    return None if match is None else match.group(1) == "enabled"


def _ioreg_value(text: str, key: str) -> str | None:
    match = re.search(rf'"{key}"\s*=\s*"([^"]+)"', text)
    return match.group(1) if match else None


def _read(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    return text[:64] or None


def _linux_version(root: Path) -> str:
    pretty = None
    try:
        for line in (root / "etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                pretty = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    base = f"Linux {platform.release()}"
    return (f"{base} ({pretty})" if pretty else base)[:64]


def _cpu_model(root: Path) -> str | None:
    try:
        for line in (root / "proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()[:64]
    except OSError:
        return None
    return None


def _ram_gb(root: Path) -> int:
    try:
        for line in (root / "proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return max(1, round(int(line.split()[1]) / 2**20))
    except (OSError, ValueError, IndexError):
        pass
    return 1
