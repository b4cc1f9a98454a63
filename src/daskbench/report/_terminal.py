"""Output of ``daskbench run`` while it runs, and the closing summary.

On a terminal, :class:`LiveReporter` keeps one live progress line. Elsewhere (CI logs, a
file), :class:`LineReporter` prints one line when each benchmark starts and one when it ends,
and a heartbeat line while a long one runs, so that a hanging benchmark is visible in the log
long before any timeout.
"""

from __future__ import annotations

import statistics
import threading
import time
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
from daskbench.models import FAILED_OUTCOMES, Outcome, Result

__all__ = ["LineReporter", "LiveReporter", "make_reporter", "summary_table"]

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
        bad = sum(self._counts[o] for o in FAILED_OUTCOMES)
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

    def on_finish(self, test: str, repeat: int, results: Sequence[Result]) -> None:
        outcome = _item_outcome(results)
        self._counts[outcome] += 1
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)
            if outcome in FAILED_OUTCOMES:
                self._progress.console.print(
                    f"[red]{outcome.value}[/] {escape(test)} (round {repeat + 1})"
                )


def _item_outcome(results: Sequence[Result]) -> Outcome:
    """The worst outcome of one benchmark's executions in one round."""
    counts = Counter(r.outcome for r in results)
    return next((o for o in _SEVERITY if counts[o]), Outcome.FAILED)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{seconds:.1f} s"


class LineReporter:
    """Plain lines for logs: start and end of every benchmark, and a heartbeat.

    The heartbeat (every ``heartbeat`` seconds while a benchmark runs) comes from a daemon
    thread, so it also shows a benchmark that hangs inside a blocking call.
    """

    def __init__(self, console: Console, *, heartbeat: float = 60.0) -> None:
        self.console = console
        self.heartbeat = heartbeat
        self._total = 0
        self._done = 0
        self._repeat = 1
        self._current: tuple[str, int, float] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        self._thread = threading.Thread(target=self._beat, name="daskbench-heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _say(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)
        self.console.file.flush()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            with self._lock:
                current = self._current
            if current is not None:
                test, repeat, started = current
                self._say(
                    f"... {test} (round {repeat + 1}/{self._repeat}) still running after "
                    f"{_duration(time.monotonic() - started)}"
                )

    def _where(self) -> str:
        width = len(str(self._total))
        return f"[{self._done + 1:>{width}}/{self._total}]"

    def on_collected(self, tests: Sequence[str], repeat: int) -> None:
        self._total, self._repeat = len(tests) * repeat, repeat
        self._say(f"daskbench: {len(tests)} benchmark(s) x {repeat} round(s)")

    def on_start(self, test: str, repeat: int) -> None:
        with self._lock:
            self._current = (test, repeat, time.monotonic())
        self._say(f"{self._where()} start {test} (round {repeat + 1}/{self._repeat})")

    def on_finish(self, test: str, repeat: int, results: Sequence[Result]) -> None:
        with self._lock:
            started = self._current[2] if self._current is not None else time.monotonic()
            self._current = None
        outcome = _item_outcome(results)
        walls = [v for r in results if (v := r.value("wall_time")) is not None]
        detail = ""
        if walls:
            detail = f", wall time {get_metric('wall_time').format(statistics.median(walls))}"
            if len(walls) > 1:
                detail += f" (median of {len(walls)} executions)"
        failure = next((r.error for r in results if r.outcome in FAILED_OUTCOMES), None)
        if failure:
            detail += f": {failure.strip().splitlines()[0]}" if failure.strip() else ""
        self._say(
            f"{self._where()} {outcome.value} {test} (round {repeat + 1}/{self._repeat}) "
            f"in {_duration(time.monotonic() - started)}{detail}"
        )
        self._done += 1


def make_reporter(console: Console) -> LiveReporter | LineReporter:
    """A live progress line on a terminal, plain lines (with a heartbeat) anywhere else."""
    return LiveReporter(console) if console.is_terminal else LineReporter(console)


def _median(results: Sequence[Result], metric: str) -> float | None:
    values = [v for r in results if (v := r.value(metric)) is not None]
    return statistics.median(values) if values else None


def summary_table(results: Sequence[Result], *, title: str = "") -> Table:
    """One row per benchmark: outcomes over rounds, median wall time and peak memory.

    A round counts once, with the worst outcome of its executions; the medians are over
    every passed execution.
    """
    table = Table(title=title or None)
    table.add_column("benchmark")
    table.add_column("outcome")
    table.add_column("wall time", justify="right")
    table.add_column("peak memory", justify="right")
    by_test: dict[str, dict[int, list[Result]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        by_test[r.test][r.repeat].append(r)
    for test, rounds in by_test.items():
        counts = Counter(_item_outcome(rs) for rs in rounds.values())
        worst = next(o for o in _SEVERITY if counts[o])
        if len(rounds) == 1:
            outcome = worst.value
        else:
            outcome = ", ".join(f"{n} {o.value}" for o, n in counts.items())
        every = [r for rs in rounds.values() for r in rs]
        table.add_row(
            escape(test),
            f"[{_STYLE[worst]}]{outcome}[/]",
            get_metric("wall_time").format(_median(every, "wall_time")),
            get_metric("peak_memory").format(_median(every, "peak_memory")),
        )
    return table
