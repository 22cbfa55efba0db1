"""Progress of long commands (`images import`, fsck, rebuilds...).

    with progress.track(len(paths), "import", unit="files", quiet=quiet) as bar:
        for path in paths:
            ...
            bar.advance(1, "stored")           # or "duplicate", "refused"...
            bar.write(f"refused {path}: ...")  # a line worth keeping, above the bar

On a terminal: a bar with the count, the rate and the outcomes so far (tqdm,
on stderr). Elsewhere (cron, a pipe, a log): a plain line on stderr at every
tenth of the way and at least every `interval` seconds. At the end, a summary
on stdout. `quiet` keeps only what `write` prints: the lines worth reading.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from time import monotonic
from typing import TextIO

from tqdm import tqdm

PLAIN_INTERVAL = 10.0


class Progress:
    def __init__(
        self,
        total: int | None,
        label: str,
        *,
        unit: str,
        outcomes: Sequence[str],
        quiet: bool,
        stream: TextIO,
        out: TextIO,
        interval: float,
    ) -> None:
        self.total = total
        self.label = label
        self.unit = unit
        self.done = 0
        self.counts: Counter[str] = Counter(dict.fromkeys(outcomes, 0))
        self.started = monotonic()
        self._quiet = quiet
        self._stream = stream
        self._out = out
        self._interval = interval
        self._last_line = self.started
        self._tenths = 0
        self._bar: tqdm | None = None
        if not quiet and stream.isatty():
            self._bar = tqdm(
                total=total, desc=label, unit=f" {unit}", file=stream, dynamic_ncols=True
            )

    def advance(self, n: int = 1, outcome: str | None = None) -> None:
        """`n` more done; `outcome` counts them under a name (stored, failed...)."""
        self.done += n
        if outcome:
            self.counts[outcome] += n
        if self._bar is not None:
            self._bar.set_postfix_str(self._outcomes(), refresh=False)
            self._bar.update(n)
        elif not self._quiet and self._line_due():
            print(self._line(), file=self._stream, flush=True)

    def write(self, message: str) -> None:
        """A line for the reader (a problem, a finding), kept even when quiet."""
        if self._bar is not None:
            tqdm.write(message, file=self._out)
        else:
            print(message, file=self._out, flush=True)

    def summary(self) -> str:
        seconds = monotonic() - self.started
        rate = self.done / seconds if seconds > 0 else 0.0
        text = f"{self.label}: {self.done} {self.unit} in {seconds:.1f} s ({rate:.1f}/s)"
        return f"{text}: {self._outcomes()}." if self.counts else f"{text}."

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if not self._quiet:
            print(self.summary(), file=self._out, flush=True)

    def _line_due(self) -> bool:
        now = monotonic()
        tenths = self.done * 10 // self.total if self.total else 0
        if tenths > self._tenths or now - self._last_line >= self._interval:
            self._tenths, self._last_line = tenths, now
            return True
        return False

    def _line(self) -> str:
        seconds = monotonic() - self.started
        rate = self.done / seconds if seconds > 0 else 0.0
        of = f"/{self.total} {self.unit} ({self.done * 100 // self.total}%)" if self.total else ""
        counts = f", {self._outcomes()}" if self.counts else ""
        return f"{self.label}: {self.done}{of or ' ' + self.unit}, {rate:.1f}/s{counts}"

    def _outcomes(self) -> str:
        return ", ".join(f"{count} {name}" for name, count in self.counts.items())


@contextmanager
def track(
    total: int | None,
    label: str,
    *,
    unit: str = "items",
    outcomes: Sequence[str] = (),
    quiet: bool = False,
    stream: TextIO | None = None,
    out: TextIO | None = None,
    interval: float = PLAIN_INTERVAL,
) -> Iterator[Progress]:
    """Show progress toward `total` (None when unknown) while the block runs;
    the summary is printed when it ends, also when it ends by an error.
    `outcomes` are shown in this order, from 0; others as they come."""
    progress = Progress(
        total,
        label,
        unit=unit,
        outcomes=outcomes,
        quiet=quiet,
        stream=stream or sys.stderr,
        out=out or sys.stdout,
        interval=interval,
    )
    try:
        yield progress
    finally:
        progress.close()
