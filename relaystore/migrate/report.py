"""What an operator sees: a progress line and summaries on stderr, and a JSON-lines log file.

The log has one line per batch, per error and per family summary (plus start/end); each line is
flushed as written, so a killed run leaves a readable log. Lines carry key names, counts and
messages, never values (record values may hold secrets).
"""
from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime, timezone
from typing import Any, TextIO

from ..timefmt import to_iso


def default_log_path() -> str:
    """migration-<UTC timestamp>.log in the current directory."""
    return datetime.now(timezone.utc).strftime("migration-%Y%m%dT%H%M%SZ.log")


class RunLog:
    """Structured JSON-lines log; `None` path logs nowhere."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = path
        self._file: TextIO | None = open(path, "a", encoding="utf-8", buffering=1) if path else None

    def write(self, event: str, **fields: Any) -> None:
        if self._file is None:
            return
        line = {"ts": to_iso(datetime.now(timezone.utc)), "event": event, **fields}
        self._file.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class Progress:
    """A one-line progress display on stderr: redrawn in place on a terminal, a line every few seconds otherwise."""

    def __init__(self, enabled: bool = True, stream: TextIO | None = None, interval: float = 2.0) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self.interval = interval
        self._last = 0.0
        self._started = time.monotonic()
        self._shown = False
        self._last_done = -1
        self.label = ""
        self.total: int | None = None

    def start(self, label: str, total: int | None = None) -> None:
        """A new phase; `total` (an estimate is fine) turns the line into a bar with a percentage."""
        self._started = time.monotonic()
        self._last = time.monotonic()
        self._last_done = -1
        self.label = label
        self.total = total

    def update(self, done: int, extra: str = "", *, force: bool = False) -> None:
        if not self.enabled or (force and done == self._last_done and not self.tty):
            return
        now = time.monotonic()
        if not force and now - self._last < (0.2 if self.tty else self.interval):
            return
        self._last = now
        self._last_done = done
        elapsed = max(now - self._started, 1e-9)
        text = f"{self.label}: {done:,} keys  {done / elapsed:,.0f} keys/s  {elapsed:,.1f}s{extra}"
        if self.total:
            share = min(done / self.total, 1.0)
            text = f"{self.label}: [{'#' * int(share * 30):<30}] {share:4.0%}  " + text.partition(": ")[2]
        if self.tty:
            self.stream.write("\r\033[K" + text)
            self._shown = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self, done: int, extra: str = "") -> None:
        self.update(done, extra, force=True)
        if self.enabled and self.tty and self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain aligned text table (first column left-aligned, numbers right-aligned)."""
    cells = [headers] + [[f"{c:,}" if isinstance(c, int) else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    return "\n".join(lines)
