"""From stored runs to verdicts and reports: pairing by round, failures, FDR families."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from daskbench.ab._compare import compare_labels, load_arm
from daskbench.errors import NotFoundError
from daskbench.models import Environment, Measurement, Outcome, Result, Run
from daskbench.report._ab import ReportContext, render_html, render_json, render_markdown
from daskbench.store import MemoryStore, Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)
# Round effects shared by both arms (machine drift): pairing removes them.
DRIFT = [1.0, 1.3, 0.9, 1.2, 1.1, 0.95, 1.25, 1.05, 0.85, 1.15]


def add_run(
    store: Store,
    label: str,
    round_index: int | None,
    values: dict[str, float | None],
    *,
    experiment: str = "exp1",
    memory: float = 1e9,
) -> None:
    extra = {} if round_index is None else {"experiment": experiment, "round": round_index}
    start = T0 + timedelta(minutes=len(store.runs()))
    run = Run(
        id=f"{label}-{experiment}-{round_index}-{len(store.runs())}",
        label=label,
        started_at=start,
        environment=Environment(packages={"dask": "2026.8.0"}, extra=extra),
    )
    store.add_run(run)
    for test, wall in values.items():
        ok = wall is not None
        store.add_result(
            Result(
                run_id=run.id,
                test=test,
                repeat=0,
                outcome=Outcome.PASSED if ok else Outcome.FAILED,
                started_at=start,
                finished_at=start + timedelta(seconds=1),
                measurements=(
                    (Measurement("wall_time", wall, "s"), Measurement("peak_memory", memory, "B"))
                    if ok
                    else ()
                ),
                error=None if ok else "boom",
            )
        )


def populate(store: Store, rounds: int = 10, slow: float = 1.5) -> None:
    for r in range(rounds):
        d = DRIFT[r % len(DRIFT)]
        add_run(store, "base", r, {"test_a": 1.0 * d, "test_b": 2.0 * d, "test_c": 1.0})
        add_run(
            store,
            "cand",
            r,
            {
                "test_a": slow * d * 1.001,
                "test_b": 2.0 * d * (1 + 0.001 * (r % 3 - 1)),
                "test_c": None if r == 0 else 1.0,
            },
        )


def verdicts(cmp: object, candidate: str = "cand") -> dict[tuple[str, str], str]:
    return {(r.test, r.metric): r.verdict for r in cmp.rows_of(candidate)}  # type: ignore[attr-defined]


def test_paired_by_round_finds_the_regression() -> None:
    store = MemoryStore()
    populate(store)
    cmp = compare_labels(store, "base", ["cand"], metrics=("wall_time", "peak_memory"))
    assert cmp.paired
    assert cmp.rounds == 10
    v = verdicts(cmp)
    assert v[("test_a", "wall_time")] == "regressed"
    assert v[("test_b", "wall_time")] == "unchanged"
    assert v[("test_a", "peak_memory")] == "unchanged"
    row = next(r for r in cmp.rows if r.test == "test_c" and r.metric == "wall_time")
    assert (row.failed_a, row.failed_b) == (0, 1)
    assert len(row.a) == len(row.b) == 9  # the failed round is left out of the pairs
    assert [r.test for r in cmp.regressed] == ["test_a"]
    a_row = next(r for r in cmp.rows if r.test == "test_a" and r.metric == "wall_time")
    assert a_row.comparison is not None
    assert a_row.comparison.ratio == pytest.approx(1.5, rel=0.01)
    assert a_row.comparison.qvalue is not None


def test_untagged_runs_are_compared_unpaired() -> None:
    store = MemoryStore()
    for r in range(6):
        add_run(store, "main", None, {"test_a": 1.0 + 0.01 * r})
        add_run(store, "branch", None, {"test_a": 2.0 + 0.01 * r})
    cmp = compare_labels(store, "main", ["branch"], metrics=("wall_time",))
    assert not cmp.paired
    assert verdicts(cmp, "branch") == {("test_a", "wall_time"): "regressed"}


def test_experiment_filter_and_missing_label() -> None:
    store = MemoryStore()
    populate(store)
    for r in range(3):
        add_run(store, "base", r, {"test_a": 9.0}, experiment="other")
    arm = load_arm(store, "base", experiment="exp1")
    assert len(arm.runs) == 10
    with pytest.raises(NotFoundError, match=r"no runs with label 'nope'.*labels: base, cand"):
        compare_labels(store, "base", ["nope"])


def test_not_compared_rows_explain_why() -> None:
    store = MemoryStore()
    for r in range(6):
        add_run(store, "base", r, {"test_a": 1.0, "test_only_base": 1.0})
        add_run(store, "cand", r, {"test_a": 1.0, "test_only_base": None})
    cmp = compare_labels(store, "base", ["cand"], metrics=("wall_time",))
    row = next(r for r in cmp.rows if r.test == "test_only_base")
    assert row.verdict == "not compared"
    assert row.failed_b == 6
    assert "cand" in row.note


def test_too_few_rounds_is_inconclusive_never_a_guess() -> None:
    store = MemoryStore()
    populate(store, rounds=2, slow=3.0)
    cmp = compare_labels(store, "base", ["cand"], metrics=("wall_time",))
    assert verdicts(cmp)[("test_a", "wall_time")] == "inconclusive"
    row = next(r for r in cmp.rows if r.test == "test_a" and r.metric == "wall_time")
    assert row.comparison is not None
    assert "too few samples" in row.comparison.note


def test_three_consistent_rounds_can_decide_a_large_change() -> None:
    # The t test on log ratios is not floored by the number of rounds (the signed-rank test
    # needed 6+, and 12+ inside a family): 3 rounds, each exactly 3x slower, decide.
    store = MemoryStore()
    populate(store, rounds=3, slow=3.0)
    cmp = compare_labels(store, "base", ["cand"], metrics=("wall_time",))
    assert verdicts(cmp)[("test_a", "wall_time")] == "regressed"


def render_all(ctx: ReportContext | None = None) -> tuple[str, str, str]:
    store = MemoryStore()
    populate(store)
    cmp = compare_labels(store, "base", ["cand"])
    ctx = ctx or ReportContext(experiment="exp1", confirmed=("test_a",), confirm_rounds=4)
    return render_markdown(cmp, ctx), render_json(cmp, ctx), render_html(cmp, ctx)


def test_markdown_summary_first_then_significant_rows() -> None:
    md, _, _ = render_all()
    lines = md.splitlines()
    assert lines[2].startswith("- **cand** vs **base**: 1 regressed")
    assert "failed results: 0 in base, 1 in cand" in lines[2]
    table = [ln for ln in lines if ln.startswith("| `")]
    assert "regressed" in table[0]
    assert "`test_a`" in table[0]
    assert "<details><summary>" in md  # unchanged rows folded
    assert "Confirmed with 4 extra interleaved round(s): `test_a`" in md


def test_json_is_strict_and_complete() -> None:
    _, text, _ = render_all()
    data = json.loads(text)
    assert data["summary"]["cand"]["regressed"] == 1
    first = data["rows"][0]
    assert first["verdict"] == "regressed"
    assert first["test"] == "test_a"
    assert {"ratio", "ci_low", "ci_high", "qvalue", "mde", "a", "b"} <= first.keys()
    assert "NaN" not in text
    assert "Infinity" not in text


def test_html_is_self_contained() -> None:
    _, _, page = render_all()
    assert page.count("<svg") >= 3  # a forest plot per metric plus sample strips
    assert "<script" not in page
    assert "https://" not in page.replace("http://www.w3.org", "")
    assert "regressed" in page


def test_null_control_is_labelled() -> None:
    md, _, _ = render_all(ReportContext(null_label="cand"))
    assert "(A/A control)" in md
    assert "A/A control `cand`" in md
    assert "1 false alarm(s)" in md


def test_sequential_replay_says_what_is_open_and_rounds_used() -> None:
    from daskbench.stats import SequentialDesign

    store = MemoryStore()
    populate(store, rounds=10, slow=1.5)
    design = SequentialDesign(first=4, max_rounds=10, futility=0.0)
    early = compare_labels(
        store, "base", ["cand"], metrics=("wall_time",), sequential=design, rounds_run=4
    )
    assert early.sequential == design
    a_row = next(r for r in early.rows if r.test == "test_a")
    assert a_row.verdict == "regressed"  # 1.5x in 4 of 4 rounds, noise 0.1%
    assert a_row.rounds_used == 4
    assert a_row.comparison is not None
    assert a_row.comparison.stop == "decided"
    # test_b (0.1% noise, no change) and test_c (constant) are decided unchanged; nothing open
    assert early.open_tests == ()
    # with a noisy benchmark, it stays open until the limit
    noisy = MemoryStore()
    for r in range(10):
        add_run(noisy, "base", r, {"test_n": 1.0})
        add_run(noisy, "cand", r, {"test_n": DRIFT[r]})
    mid = compare_labels(
        noisy, "base", ["cand"], metrics=("wall_time",), sequential=design, rounds_run=6
    )
    assert mid.open_tests == ("test_n",)
    row = mid.rows[0]
    assert (row.rounds_used, len(row.a)) == (6, 6)  # only the rounds so far
    data = row.to_dict()
    assert data["stop"] == "running"
    assert data["test_method"] == "sequential-t"
    assert data["noisy"] is True
    assert data["noise_cv"] > 0.05
    end = compare_labels(noisy, "base", ["cand"], metrics=("wall_time",), sequential=design)
    assert end.open_tests == ()
    assert end.rows[0].to_dict()["stop"] == "limit"
    assert "sequential t e-values" in end.method


def test_sequential_needs_rounds_of_one_experiment() -> None:
    from daskbench.errors import StatsInputError
    from daskbench.stats import SequentialDesign

    store = MemoryStore()
    populate(store, rounds=4)
    for r in range(4):  # the same labels in another experiment: pairs, but two sequences
        add_run(store, "base", r, {"test_a": 1.0}, experiment="exp2")
        add_run(store, "cand", r, {"test_a": 1.0}, experiment="exp2")
    design = SequentialDesign(first=3, max_rounds=6)
    with pytest.raises(StatsInputError, match=r"cand vs base: .* rounds of one experiment, got 2"):
        compare_labels(store, "base", ["cand"], sequential=design)
    one = compare_labels(store, "base", ["cand"], sequential=design, experiment="exp2")
    assert one.rows
    untagged = MemoryStore()
    for _ in range(4):
        add_run(untagged, "base", None, {"test_a": 1.0})
        add_run(untagged, "cand", None, {"test_a": 1.0})
    with pytest.raises(StatsInputError, match="paired by round"):
        compare_labels(untagged, "base", ["cand"], sequential=design)


def test_reports_show_noise_mde_marker_and_rounds() -> None:
    from daskbench.stats import SequentialDesign

    store = MemoryStore()
    populate(store, rounds=6, slow=1.5)
    for r in range(6):
        add_run(store, "base", r, {"test_n": 1.0})
        add_run(store, "cand", r, {"test_n": DRIFT[r]})
    design = SequentialDesign(first=4, max_rounds=10, futility=0.0)
    cmp = compare_labels(store, "base", ["cand"], metrics=("wall_time",), sequential=design)
    ctx = ReportContext(experiment="exp1")
    md, text, page = render_markdown(cmp, ctx), render_json(cmp, ctx), render_html(cmp, ctx)
    assert "| noise | MDE |" in md
    assert "regressed (4 rounds)" in md
    assert "(6 rounds, running)" in md
    assert " ?" in md  # test_n's MDE is far above the 5% threshold
    assert "? marks an MDE above the threshold" in md
    rows = {r["test"]: r for r in json.loads(text)["rows"]}
    assert rows["test_a"]["rounds_used"] == 4
    assert rows["test_n"]["noisy"] is True
    assert rows["test_a"]["noisy"] is False or rows["test_a"]["mde"] > 0.05
    assert "<th>noise</th>" in page
