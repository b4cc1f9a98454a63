"""``daskbench ab`` and ``daskbench compare``: the command-line edge of A/B testing.

Order of work in ``ab``, so that bad input costs nothing: read and validate every spec,
open the database, build (or find cached) every environment, and only then run rounds.
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from daskbench.ab._compare import DEFAULT_METRICS, ABComparison, compare_labels
from daskbench.ab._report import ReportContext, terminal_tables, write_reports
from daskbench.ab._runner import Arm, Experiment
from daskbench.ab._spec import EnvSpec, load_spec
from daskbench.ab._venv import BuiltEnv, EnvBuilder
from daskbench.errors import ConfigError
from daskbench.stats import SequentialDesign, min_rounds, sequential_min_rounds

__all__ = ["ab", "compare"]

EXIT_OK, EXIT_REGRESSED = 0, 1


def _console() -> Console:
    """Wide tables when writing to a file or pipe (CI logs), the terminal's width otherwise."""
    console = Console()
    return console if console.is_terminal else Console(width=150)


def _progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def _output_options(func: Any) -> Any:
    options = [
        click.option(
            "--fail-on-regression",
            is_flag=True,
            help="exit 1 when any candidate (not the A/A control) has a 'regressed' verdict",
        ),
        click.option(
            "--metric",
            "metrics",
            multiple=True,
            help=f"metric to compare (repeatable) [default: {', '.join(DEFAULT_METRICS)}]",
        ),
        click.option(
            "--alpha",
            type=float,
            default=0.05,
            show_default=True,
            help="false discovery rate per candidate",
        ),
        click.option(
            "--threshold",
            type=float,
            default=0.05,
            show_default=True,
            help="smallest relative change worth reporting",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _safe_db(url: str) -> str:
    """The URL without a password, for reports."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def _check_db(db: str) -> None:
    from daskbench.store import open_store

    if db.startswith("memory:"):
        raise ConfigError("--db memory:// cannot be shared with benchmark processes; use SQLite")
    open_store(db).close()  # create/migrate now; a bad URL fails before anything runs


def _finish(
    cmp: ABComparison,
    ctx: ReportContext,
    out: Path,
    console: Console,
    *,
    fail_on_regression: bool,
) -> int:
    for table in terminal_tables(cmp, ctx):
        console.print(table)
    paths = write_reports(cmp, ctx, out)
    for cand in cmp.candidates:
        counts = cmp.counts(cand)
        summary = ", ".join(f"{n} {v}" for v, n in counts.items() if n) or "no data"
        tag = " (A/A control)" if cand == ctx.null_label else ""
        console.print(f"{cand} vs {cmp.baseline}{tag}: {summary}", highlight=False, markup=False)
    reports = ", ".join(str(p) for p in paths.values())
    console.print(f"reports: {reports}", highlight=False, markup=False)
    regressed = [r for r in cmp.regressed if r.candidate != ctx.null_label]
    return EXIT_REGRESSED if fail_on_regression and regressed else EXIT_OK


# -- ab ------------------------------------------------------------------------------------------
def _load_specs(paths: Sequence[str], null: bool) -> list[EnvSpec]:
    if not paths:
        raise ConfigError("ab needs at least two spec files (or one with --null)")
    specs = [load_spec(p) for p in paths]
    if null:
        specs.append(specs[0].renamed(f"{specs[0].name}-null"))
    if len(specs) < 2:
        raise ConfigError("ab needs at least two spec files (or one with --null)")
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.name in seen:
            raise ConfigError(
                f"{spec.source}: name: {spec.name!r} is also the name of {seen[spec.name]}; "
                "every environment needs its own name"
            )
        seen[spec.name] = spec.source
    return specs


def _build_all(specs: Sequence[EnvSpec], builder: EnvBuilder, console: Console) -> list[BuiltEnv]:
    built: dict[str | None, BuiltEnv] = {}
    out = []
    with _progress(console) as progress:
        for spec in specs:
            key = builder.key(spec)
            if key in built:
                out.append(built[key])
                continue
            task = progress.add_task(f"environment {spec.name}", total=None)

            def say(msg: str, task: Any = task, name: str = spec.name) -> None:
                progress.update(task, description=f"environment {name}: {msg}")

            env = builder.build(spec, status=say)
            progress.remove_task(task)
            built[key] = env
            out.append(env)
            if env.isolated:
                how = "built venv" if not env.cached else "cached venv"
                if env.refreshed:
                    how += " (daskbench reinstalled: its source changed)"
                console.print(
                    f"{spec.name}: {how} {builder.cache_dir / str(env.key)}, {env.seconds:.1f} s"
                    + (f" (dask, distributed: {env.versions})" if env.versions else ""),
                    highlight=False,
                )
            else:
                console.print(f"{spec.name}: current environment ({env.python})", highlight=False)
    return out


def _run_rounds(
    experiment: Experiment,
    rounds: int,
    console: Console,
    tests: Sequence[str] | None = None,
    what: str = "round",
) -> None:
    n_arms = len(experiment.arms)
    with _progress(console) as progress:
        task = progress.add_task(what, total=rounds * n_arms)
        first = experiment.rounds_done
        for _ in range(rounds):

            def start(r: int, arm: Arm) -> None:
                progress.update(task, description=f"{what} {r - first + 1}/{rounds}: {arm.label}")

            def done(r: int, arm: Arm, code: int) -> None:
                progress.advance(task)
                if code != 0:
                    why = experiment.last_error or "some benchmarks failed"
                    console.print(
                        f"[yellow]{arm.label}, round {r + 1}:[/] {escape(why)}", highlight=False
                    )

            experiment.run_round(tests, on_start=start, on_done=done)


def _mark_confirmed(cmp: ABComparison, before: ABComparison, first: int) -> ABComparison:
    """Rows that used rounds beyond the first batch, with their verdict after it."""
    old = {(r.candidate, r.test, r.metric): r.verdict for r in before.rows}
    rows = []
    for r in cmp.rows:
        if r.rounds_used is not None and r.rounds_used > first:
            r = dataclasses.replace(
                r, confirmed=True, verdict_before_confirm=old.get((r.candidate, r.test, r.metric))
            )
        rows.append(r)
    return dataclasses.replace(cmp, rows=tuple(rows))


def _run_sequential(
    experiment: Experiment,
    design: SequentialDesign,
    console: Console,
    analyse: Callable[[int], ABComparison],
) -> tuple[ABComparison, list[str]]:
    """``--max-repeat``: the first batch, then one round at a time of the benchmarks that
    some comparison still wants, until none does or ``max_rounds`` is reached.

    ``analyse(rounds)`` replays the sequential design on the stored results after that many
    rounds (a pure function of the data, so any later report recomputes the same verdicts).
    Returns the final comparison and the benchmarks that got extra rounds.
    """
    _run_rounds(experiment, design.first, console)
    before = analyse(design.first)
    family = max(
        (sum(r.comparison is not None for r in before.rows_of(c)) for c in before.candidates),
        default=0,
    )
    needed = sequential_min_rounds(max(family, 1), alpha=design.alpha)
    if design.max_rounds < needed:
        console.print(
            f"[yellow]note:[/] a lone change among {family} comparisons needs {needed}+ rounds "
            f"to be decided sequentially; --max-repeat is {design.max_rounds}",
            highlight=False,
        )
    cmp, extra = before, set[str]()
    while cmp.open_tests and experiment.rounds_done < design.max_rounds:
        tests = list(cmp.open_tests)
        extra.update(tests)
        console.print(
            f"round {experiment.rounds_done + 1} of at most {design.max_rounds}: "
            f"{len(tests)} benchmark(s) undecided: " + ", ".join(tests),
            highlight=False,
            markup=False,
        )
        _run_rounds(experiment, 1, console, tests, what="sequential round")
        cmp = analyse(experiment.rounds_done)
    return _mark_confirmed(cmp, before, design.first), sorted(extra)


def _environments(
    specs: Sequence[EnvSpec], envs: Sequence[BuiltEnv], cmp: ABComparison
) -> dict[str, dict[str, Any]]:
    out = {}
    for spec, env in zip(specs, envs, strict=True):
        arm = cmp.arms.get(spec.name)
        packages = arm.runs[0].environment.packages if arm and arm.runs else {}
        versions = " / ".join(packages.get(p, "?") for p in ("dask", "distributed"))
        out[spec.name] = {
            **spec.to_dict(),
            "label": spec.name,
            "venv": env.key,
            "python": env.python,
            "versions": versions,
        }
    return out


@click.command()
@click.argument("specs", nargs=-1, type=click.Path())
@click.option("--repeat", type=click.IntRange(min=1), default=5, show_default=True, help="rounds")
@click.option("--null", is_flag=True, help="add an A/A control: a second copy of the first spec")
@click.option(
    "--max-repeat",
    type=click.IntRange(min=1),
    default=None,
    help="sequential: after --repeat rounds, add rounds one at a time for the benchmarks "
    "still undecided, up to this many rounds in all (anytime-valid statistics)",
)
@click.option("--confirm", is_flag=True, help="short for --max-repeat REPEAT+CONFIRM_ROUNDS")
@click.option(
    "--confirm-rounds",
    type=click.IntRange(min=1),
    default=None,
    help="extra rounds of --confirm [default: --repeat]",
)
@click.option("--db", default=None, help="history database URL [default: sqlite:///OUT/ab.db]")
@click.option("--scale", type=click.Choice(["ci", "small", "large"]), default="ci")
@click.option("-k", "keyword", default=None, help="only benchmarks matching this expression")
@click.option("-m", "markexpr", default=None, help="only benchmarks matching this mark expression")
@click.option(
    "--bench",
    "bench_paths",
    multiple=True,
    type=click.Path(exists=True),
    help="benchmark file or directory (repeatable) [default: the shipped suite]",
)
@click.option("--out", default="daskbench-out/ab", show_default=True, help="report directory")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="default workers")
@click.option("--threads-per-worker", type=click.IntRange(min=1), default=None)
@click.option("--memory-limit", default=None, help="default memory limit per worker")
@click.option("--timeout", type=float, default=None, help="per-benchmark timeout (seconds)")
@click.option(
    "--reset",
    type=click.Choice(["restart", "none"]),
    default=None,
    help="restart workers before each benchmark [default: restart]; every environment "
    "and round gets a fresh cluster either way",
)
@click.option(
    "--env-cache",
    default=None,
    help="where built environments are cached [default: ~/.cache/daskbench/envs]",
)
@_output_options
def ab(
    specs: tuple[str, ...],
    repeat: int,
    null: bool,
    max_repeat: int | None,
    confirm: bool,
    confirm_rounds: int | None,
    db: str | None,
    scale: str,
    keyword: str | None,
    markexpr: str | None,
    bench_paths: tuple[str, ...],
    out: str,
    workers: int | None,
    threads_per_worker: int | None,
    memory_limit: str | None,
    timeout: float | None,
    reset: str | None,
    env_cache: str | None,
    fail_on_regression: bool,
    metrics: tuple[str, ...],
    alpha: float,
    threshold: float,
) -> int:
    """Compare environments (spec files; the first is the baseline) with interleaved rounds."""
    console = _console()
    started = time.perf_counter()
    parsed = _load_specs(specs, null)
    design = _sequential_design(repeat, max_repeat, confirm, confirm_rounds, alpha, threshold)
    out_dir = Path(out)
    db = db or f"sqlite:///{(out_dir / 'ab.db').resolve()}"
    out_dir.mkdir(parents=True, exist_ok=True)
    _check_db(db)
    builder = EnvBuilder(Path(env_cache) if env_cache else None)
    t0 = time.perf_counter()
    envs = _build_all(parsed, builder, console)
    build_seconds = time.perf_counter() - t0
    arms = [Arm(spec, env) for spec, env in zip(parsed, envs, strict=True)]
    experiment = Experiment(
        arms,
        db=db,
        scale=scale,
        paths=bench_paths,
        keyword=keyword,
        markexpr=markexpr,
        cluster_defaults={
            "workers": workers,
            "threads_per_worker": threads_per_worker,
            "memory_limit": memory_limit,
        },
        log_dir=out_dir / "logs",
        timeout=timeout,
        reset=reset,
    )
    console.print(
        f"experiment {experiment.id}: {len(arms)} environments x {repeat} rounds (ABBA), "
        f"results in {_safe_db(db)}",
        highlight=False,
    )
    needed, most = min_rounds(), design.max_rounds if design else repeat
    if most < needed:
        console.print(
            f"[yellow]note:[/] with {most} round(s) no comparison can be decided (that needs "
            f"{needed}+ rounds, 10+ recommended): expect 'inconclusive'",
            highlight=False,
        )
    from daskbench.store import open_store

    labels = [a.label for a in arms]

    def analyse(rounds: int | None = None) -> ABComparison:
        with open_store(db) as store:
            return compare_labels(
                store,
                labels[0],
                labels[1:],
                experiment=experiment.id,
                metrics=metrics or DEFAULT_METRICS,
                alpha=alpha,
                threshold=threshold,
                sequential=design,
                rounds_run=rounds,
            )

    confirmed: list[str] = []
    if design is None:
        _run_rounds(experiment, repeat, console)
        cmp = analyse()
    else:
        cmp, confirmed = _run_sequential(experiment, design, console, analyse)
    ctx = ReportContext(
        title=f"daskbench A/B: {' vs '.join(labels[1:])} against {labels[0]}",
        experiment=experiment.id,
        db=_safe_db(db),
        scale=scale,
        environments=_environments(parsed, envs, cmp),
        null_label=parsed[-1].name if null else None,
        confirmed=tuple(confirmed),
        confirm_rounds=experiment.rounds_done - repeat,
        command=shlex.join(["daskbench", *sys.argv[1:]]),
    )
    code = _finish(cmp, ctx, out_dir, console, fail_on_regression=fail_on_regression)
    console.print(
        f"environments ready in {build_seconds:.1f} s; total {time.perf_counter() - started:.0f} s",
        highlight=False,
    )
    return code


def _sequential_design(
    repeat: int,
    max_repeat: int | None,
    confirm: bool,
    confirm_rounds: int | None,
    alpha: float,
    threshold: float,
) -> SequentialDesign | None:
    """The sequential design of ``--max-repeat`` (``--confirm`` is a special case), or None."""
    if confirm:
        if max_repeat is not None:
            raise ConfigError("--confirm is short for --max-repeat; give only one of them")
        max_repeat = repeat + (confirm_rounds or repeat)
    elif confirm_rounds is not None:
        raise ConfigError("--confirm-rounds needs --confirm (or use --max-repeat)")
    if max_repeat is None:
        return None
    if max_repeat < repeat:
        raise ConfigError(f"--max-repeat {max_repeat} must be at least --repeat {repeat}")
    try:
        return SequentialDesign(
            first=repeat, max_rounds=max_repeat, alpha=alpha, threshold=threshold
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


# -- compare --------------------------------------------------------------------------------------
@click.command()
@click.option("--db", required=True, help="history database URL")
@click.option("--baseline", required=True, help="label of the baseline (A)")
@click.option("--candidate", "candidates", multiple=True, required=True, help="label(s) of B")
@click.option("--experiment", default=None, help="only runs of this ab experiment id")
@click.option("--unpaired", is_flag=True, help="never pair by round, even when runs are tagged")
@click.option("--out", default="daskbench-out/compare", show_default=True, help="report dir")
@_output_options
def compare(
    db: str,
    baseline: str,
    candidates: tuple[str, ...],
    experiment: str | None,
    unpaired: bool,
    out: str,
    fail_on_regression: bool,
    metrics: tuple[str, ...],
    alpha: float,
    threshold: float,
) -> int:
    """Compare labels already in a database (e.g. two `daskbench run --label` runs)."""
    from daskbench.store import open_store

    console = _console()
    if baseline in candidates:
        raise ConfigError(f"--candidate {baseline!r} is also the --baseline")
    with open_store(db) as store:
        if not store.labels():
            raise ConfigError(f"--db {_safe_db(db)}: no runs stored yet")
        cmp = compare_labels(
            store,
            baseline,
            candidates,
            experiment=experiment,
            metrics=metrics or DEFAULT_METRICS,
            alpha=alpha,
            threshold=threshold,
            paired=False if unpaired else None,
        )
    ctx = ReportContext(
        title=f"daskbench compare: {', '.join(candidates)} against {baseline}",
        experiment=experiment,
        db=_safe_db(db),
        command=shlex.join(["daskbench", *sys.argv[1:]]),
    )
    return _finish(cmp, ctx, Path(out), console, fail_on_regression=fail_on_regression)
