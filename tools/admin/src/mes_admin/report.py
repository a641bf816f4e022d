"""What the operator sees: progress, each line not imported, the CSV report, the summary."""

from __future__ import annotations

import csv
import time
from collections import Counter
from typing import TextIO

from tqdm import tqdm

from .importer import Outcome, OutcomeKind

__all__ = ["REPORT_COLUMNS", "ImportReport"]

REPORT_COLUMNS = ("line", "ins", "outcome", "reason", "detail")
# Past this many, stderr only counts: the full list is what --report is for.
_MAX_PRINTED = 50


class ImportReport:
    """Implements ``importer.OutcomeSink``; counts outcomes and reports the lines not imported.

    Lines not imported are printed to ``err`` as they come (above the progress bar) and
    written to ``report_file`` as CSV when one is given.
    """

    def __init__(
        self, err: TextIO, *, total: int | None, progress: bool, report_file: TextIO | None = None
    ) -> None:
        self._err = err
        self._counts: Counter[OutcomeKind] = Counter()
        self._printed = 0
        self._started = time.perf_counter()
        self._bar = tqdm(
            total=total,
            unit=" lines",
            file=err,
            disable=not progress,
            dynamic_ncols=True,
            smoothing=0.1,
        )
        self._writer = csv.writer(report_file) if report_file is not None else None
        if self._writer is not None:
            self._writer.writerow(REPORT_COLUMNS)

    def record(self, outcome: Outcome) -> None:
        self._counts[outcome.kind] += 1
        self._bar.update(1)
        if outcome.kind in (OutcomeKind.CREATED, OutcomeKind.UPDATED):
            return
        if self._writer is not None:
            self._writer.writerow(
                (outcome.line, outcome.ins, outcome.kind.value, outcome.reason, outcome.detail)
            )
        if self._printed < _MAX_PRINTED:
            self._printed += 1
            tqdm.write(
                f"line {outcome.line}: {outcome.kind.value} {outcome.ins or '-'} "
                f"{outcome.reason}: {outcome.detail}",
                file=self._err,
            )

    def count(self, kind: OutcomeKind) -> int:
        return self._counts[kind]

    @property
    def total(self) -> int:
        return sum(self._counts.values())

    @property
    def all_imported(self) -> bool:
        return self.count(OutcomeKind.REJECTED) == 0 and self.count(OutcomeKind.FAILED) == 0

    def close(self) -> None:
        if self._bar.total is not None and self._bar.n != self._bar.total:
            # The total was counted from physical lines (blank or multi-line records differ).
            self._bar.total = self._bar.n
            self._bar.refresh()
        self._bar.close()

    def summary(self) -> str:
        elapsed = time.perf_counter() - self._started
        rate = self.total / elapsed if elapsed > 0 else 0.0
        not_imported = self.count(OutcomeKind.REJECTED) + self.count(OutcomeKind.FAILED)
        hidden = not_imported - self._printed
        more = f" ({hidden} more not shown above)" if hidden > 0 else ""
        # Identity answers 200 both to a change and to a replay of the same profile,
        # so "updated" includes unchanged profiles.
        return (
            f"{self.total} lines: {self.count(OutcomeKind.CREATED)} created, "
            f"{self.count(OutcomeKind.UPDATED)} updated (or unchanged), "
            f"{self.count(OutcomeKind.REJECTED)} rejected, "
            f"{self.count(OutcomeKind.FAILED)} failed{more}; "
            f"{elapsed:.1f} s, {rate:.0f} lines/s"
        )
