"""What ``daskbench run`` prints while it runs, off a terminal (CI logs)."""

from __future__ import annotations

import io
import time

from rich.console import Console

from daskbench.models import Measurement, Outcome, Result, utcnow
from daskbench.report._terminal import LineReporter, LiveReporter, make_reporter, summary_table


def _result(test: str, repeat: int, execution: int, outcome: Outcome, wall: float | None) -> Result:
    now = utcnow()
    return Result(
        run_id="r",
        test=test,
        repeat=repeat,
        execution=execution,
        outcome=outcome,
        started_at=now,
        finished_at=now,
        measurements=(Measurement("wall_time", wall, "s"),) if wall is not None else (),
        error=None if outcome is Outcome.PASSED else "AssertionError: wrong\n\ndetails",
    )


def test_a_line_per_start_and_end_and_a_heartbeat_for_long_ones() -> None:
    out = io.StringIO()
    with LineReporter(Console(file=out, width=200), heartbeat=0.1) as reporter:
        reporter.on_collected(["test_a", "test_b"], 1)
        reporter.on_start("test_a", 0)
        time.sleep(0.35)  # a benchmark that hangs shows up in the log
        reporter.on_finish(
            "test_a",
            0,
            [_result("test_a", 0, i, Outcome.PASSED, w) for i, w in enumerate((0.3, 0.1, 0.2))],
        )
        reporter.on_start("test_b", 0)
        reporter.on_finish("test_b", 0, [_result("test_b", 0, 0, Outcome.FAILED, None)])
    lines = out.getvalue().splitlines()
    assert lines[0] == "daskbench: 2 benchmark(s) x 1 round(s)"
    assert lines[1] == "[1/2] start test_a (round 1/1)"
    beats = [ln for ln in lines if ln.startswith("... test_a (round 1/1) still running after")]
    assert len(beats) >= 2
    finished = next(ln for ln in lines if ln.startswith("[1/2] passed test_a"))
    assert finished.endswith("wall time 200.0 ms (median of 3 executions)")
    assert "[2/2] start test_b (round 1/1)" in lines
    assert lines[-1].startswith("[2/2] failed test_b (round 1/1) in ")
    assert lines[-1].endswith(": AssertionError: wrong")


def test_reporter_follows_the_output() -> None:
    assert isinstance(make_reporter(Console(file=io.StringIO())), LineReporter)
    assert isinstance(make_reporter(Console(file=io.StringIO(), force_terminal=True)), LiveReporter)


def test_summary_counts_rounds_not_executions() -> None:
    results = [
        *(_result("test_a", 0, i, Outcome.PASSED, 0.1) for i in range(3)),
        *(_result("test_a", 1, i, Outcome.PASSED, 0.3) for i in range(2)),
        _result("test_a", 1, 2, Outcome.FAILED, None),
    ]
    out = io.StringIO()
    Console(file=out, width=200).print(summary_table(results))
    row = next(ln for ln in out.getvalue().splitlines() if "test_a" in ln)
    assert "1 passed, 1 failed" in row
    assert "100.0 ms" in row  # median over the five passed executions
