"""Terminal output of ``daskbench run``: a live progress line and the closing summary."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from types import TracebackType
from typing import Self

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from daskbench.metrics import get_metric
from daskbench.models import Outcome, Result

__all__ = ["LiveReporter", "summary_table"]

_STYLE = {
    Outcome.PASSED: "green",
    Outcome.FAILED: "red",
    Outcome.ERROR: "red",
    Outcome.TIMEOUT: "red",
    Outcome.SKIPPED: "yellow",
}

_SEVERITY = (Outcome.TIMEOUT, Outcome.ERROR, Outcome.FAILED, Outcome.SKIPPED, Outcome.PASSED)


class LiveReporter:
    """Shows current benchmark, round, elapsed time and counts; silent off a terminal."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._repeat = 1
        self._counts: dict[Outcome, int] = defaultdict(int)

    def __enter__(self) -> Self:
        if self.console.is_terminal:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def _status(self) -> str:
        good = self._counts[Outcome.PASSED]
        bad = sum(self._counts[o] for o in (Outcome.FAILED, Outcome.ERROR, Outcome.TIMEOUT))
        return f"[green]{good} passed[/] [red]{bad} failed[/]"

    def on_collected(self, tests: Sequence[str], repeat: int) -> None:
        self._repeat = repeat
        if self._progress is not None:
            self._task = self._progress.add_task("starting", total=len(tests) * repeat)

    def on_start(self, test: str, repeat: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(
                self._task,
                description=(
                    f"round {repeat + 1}/{self._repeat} · {escape(test)} · {self._status()}"
                ),
            )

    def on_result(self, result: Result) -> None:
        self._counts[result.outcome] += 1
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)
            if result.outcome in (Outcome.FAILED, Outcome.ERROR, Outcome.TIMEOUT):
                self._progress.console.print(
                    f"[red]{result.outcome.value}[/] {escape(result.test)} "
                    f"(round {result.repeat + 1})"
                )


def _median(results: Sequence[Result], metric: str) -> float | None:
    values = [v for r in results if (v := r.value(metric)) is not None]
    return statistics.median(values) if values else None


def summary_table(results: Sequence[Result], *, title: str = "") -> Table:
    """One row per benchmark: outcomes over rounds, median wall time and peak memory."""
    table = Table(title=title or None)
    table.add_column("benchmark")
    table.add_column("outcome")
    table.add_column("wall time", justify="right")
    table.add_column("peak memory", justify="right")
    by_test: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_test[r.test].append(r)
    for test, rs in by_test.items():
        counts = Counter(r.outcome for r in rs)
        worst = next(o for o in _SEVERITY if counts[o])
        if len(rs) == 1:
            outcome = rs[0].outcome.value
        else:
            outcome = ", ".join(f"{n} {o.value}" for o, n in counts.items())
        table.add_row(
            escape(test),
            f"[{_STYLE[worst]}]{outcome}[/]",
            get_metric("wall_time").format(_median(rs, "wall_time")),
            get_metric("peak_memory").format(_median(rs, "peak_memory")),
        )
    return table
