"""A small progress bar for long commands (stderr; redrawn in place on a terminal)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Progress over ``total`` units of work, shown on ``stream`` (default stderr).

    On a terminal the bar is redrawn in place; otherwise a line is printed at most every 10 %
    so logs stay short. ``Progress(0, ...)`` is a no-op, and so is ``enabled=False``.
    """

    def __init__(
        self, total: int, label: str, *, stream: TextIO | None = None, enabled: bool = True
    ) -> None:
        self.total = max(0, int(total))
        self.label = label
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and self.total > 0
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_decile = -1
        self._t0 = time.monotonic()

    def advance(self, n: int = 1, note: str = "") -> None:
        """Mark ``n`` more units done; ``note`` names the current item."""
        self.done = min(self.total, self.done + n)
        if not self.enabled:
            return
        frac = self.done / self.total
        if self._tty:
            width = 30
            fill = int(round(frac * width))
            bar = "#" * fill + "-" * (width - fill)
            self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total} {note[:40]:<40}")
            if self.done == self.total:
                self.stream.write(f"  {time.monotonic() - self._t0:.1f} s\n")
            self.stream.flush()
            return
        decile = int(frac * 10)
        if decile > self._last_decile:
            self._last_decile = decile
            self.stream.write(f"{self.label}: {self.done}/{self.total} ({frac:.0%})\n")
            self.stream.flush()
