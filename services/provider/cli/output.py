"""Where the CLI writes: stdout for results, stderr for errors and progress."""

from __future__ import annotations

import sys
from typing import Any, TextIO


def out(*parts: Any, file: TextIO | None = None) -> None:
    stream = file if file is not None else sys.stdout
    stream.write(" ".join(str(p) for p in parts) + "\n")
