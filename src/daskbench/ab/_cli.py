"""``daskbench ab`` and ``daskbench compare``: the command-line edge of A/B testing.

Order of work in ``ab``, so that bad input costs nothing and leaves nothing behind: validate
every option the way the child runs will (the shared declarations of :mod:`daskbench._options`
and their validators), read and validate every spec, check the database URL without creating
it, build (or find cached) every environment, and only then create the report directory and
the database and run rounds.
"""

from __future__ import annotations

import dataclasses
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

from daskbench._options import (
    AB_MIN_TIME,
    COMPARE,
    DB,
    DB_REQUIRED,
    EXECUTION,
    KEYWORD,
    MARKEXPR,
    MIN_TIME,
    OUT_DIR,
    REPEAT,
    RESET,
    SCALE,
    SIZING,
    TIMEOUT,
    CompareOptions,
    check_selection,
    click_options,
)
from daskbench._secrets import mask_command, mask_config, mask_url
from daskbench.ab._compare import ABComparison, compare_labels
from daskbench.ab._runner import Arm, Experiment
from daskbench.ab._spec import EnvSpec, load_spec
from daskbench.ab._venv import BuiltEnv, EnvBuilder
from daskbench.errors import ConfigError, ExitCode, StoreError
from daskbench.report._ab import ReportContext, terminal_tables, write_reports
from daskbench.stats import SequentialDesign, min_rounds, sequential_min_rounds

__all__ = ["ab", "compare"]


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


def _out_dir(out: str) -> Path:
    """``--out`` as a directory that can be created (checked before anything is)."""
    path = Path(out)
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                what = "--out" if part == path else f"--out {out}: {part}"
                raise ConfigError(f"{what} is an existing file, not a directory")
            break
    return path


def _make_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {path}: cannot create it: {exc.strerror or exc}") from None


def _check_db_url(db: str) -> None:
    """A bad or unreachable URL fails now, before environments are built; creates nothing."""
    from daskbench.store import current_revision
    from daskbench.store._migrate import head_revision, known_revisions
    from daskbench.store._url import parse_store_url

    if parse_store_url(db).kind == "memory":
        raise ConfigError("--db memory:// cannot be shared with benchmark processes; use SQLite")
    revision = current_revision(db)  # connects and reads; StoreError for a foreign database
    if revision is not None and revision not in known_revisions():
        raise StoreError(
            f"--db {mask_url(db)} is at schema revision {revision!r}, unknown to this daskbench "
            f"(newest known: {head_revision()!r}); it was probably written by a newer daskbench"
        )


def _child_options(
    specs: Sequence[EnvSpec], shared: dict[str, Any], cluster: dict[str, Any]
) -> None:
    """Validate, per environment, the options its ``daskbench run`` will get (so that an
    option error surfaces now, not in a child after the database and logs exist)."""
    from daskbench.session import SessionOptions

    given = {**shared, **cluster}
    SessionOptions.from_values(given, db="memory://")  # the command line's own errors
    for spec in specs:
        try:
            SessionOptions.from_values({**given, **spec.cluster}, db="memory://", label=spec.name)
        except ConfigError as exc:
            raise ConfigError(f"{spec.source}: cluster: {exc}") from None
        try:
            SessionOptions.from_values(
                {**given, **spec.cluster, **spec.run}, db="memory://", label=spec.name
            )
        except (ConfigError, TypeError) as exc:
            raise ConfigError(f"{spec.source}: run: {exc}") from None


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
    return ExitCode.FAILED if fail_on_regression and regressed else ExitCode.OK


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
                if code != ExitCode.OK:
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
            **mask_config(spec.to_dict()),  # env and config may hold tokens
            "label": spec.name,
            "venv": env.key,
            "python": env.python,
            "versions": versions,
        }
    return out


@click.command()
@click.argument("specs", nargs=-1, type=click.Path())
@click_options(REPEAT.but(default=5, help="rounds"), defaults=True)
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
    type=int,
    default=None,
    help="extra rounds of --confirm [default: --repeat]",
)
@click_options(
    DB.but(default=None, env=None, default_text="sqlite:///OUT/ab.db"),
    SCALE,
    KEYWORD,
    MARKEXPR,
)
@click.option(
    "--bench",
    "bench_paths",
    multiple=True,
    type=click.Path(),
    help="benchmark file or directory (repeatable) [default: the shipped suite]",
)
@click_options(OUT_DIR.but(default="daskbench-out/ab"), defaults=True)
@click_options(*SIZING, TIMEOUT, RESET, *(s for s in EXECUTION if s is not MIN_TIME))
@click_options(AB_MIN_TIME, defaults=True)  # ab's own default; a plain run's is 0
@click.option(
    "--env-cache",
    default=None,
    help="where built environments are cached [default: ~/.cache/daskbench/envs]",
)
@click_options(*COMPARE, defaults=True)
def ab(
    specs: tuple[str, ...],
    repeat: int,
    null: bool,
    max_repeat: int | None,
    confirm: bool,
    confirm_rounds: int | None,
    db: str | None,
    scale: str | None,
    keyword: str | None,
    markexpr: str | None,
    bench_paths: tuple[str, ...],
    out: str,
    workers: int | None,
    threads_per_worker: int | None,
    memory_limit: str | None,
    timeout: float | None,
    reset: str | None,
    warmup: int | None,
    min_time: float | None,
    order: str | None,
    seed: int | None,
    health_timeout: float | None,
    env_cache: str | None,
    fail_on_regression: bool,
    metrics: tuple[str, ...],
    alpha: float,
    threshold: float,
) -> int:
    """Compare environments (spec files; the first is the baseline) with interleaved rounds."""
    console = _console()
    started = time.perf_counter()
    # 1. Every option, as the children will see it; nothing is created yet.
    settings = CompareOptions(metrics, alpha, threshold, fail_on_regression)
    if repeat < 1:
        raise ConfigError(f"--repeat must be >= 1, got {repeat}")
    if confirm_rounds is not None and confirm_rounds < 1:
        raise ConfigError(f"--confirm-rounds must be >= 1, got {confirm_rounds}")
    check_selection(bench_paths, keyword, markexpr)
    out_dir = _out_dir(out)
    parsed = _load_specs(specs, null)
    run_options: dict[str, object] = {
        "timeout": timeout,
        "reset": reset,
        "warmup": warmup,
        "min_time": min_time,
        "order": order,
        "seed": seed,
        "health_timeout": health_timeout,
    }
    shared = {"scale": scale, **run_options}
    cluster = {
        "workers": workers,
        "threads_per_worker": threads_per_worker,
        "memory_limit": memory_limit,
    }
    _child_options(parsed, shared, cluster)
    design = _sequential_design(repeat, max_repeat, confirm, confirm_rounds, alpha, threshold)
    db = db or f"sqlite:///{(out_dir / 'ab.db').resolve()}"
    _check_db_url(db)
    # 2. Environments (slow, cached; a bad package fails here, still before any output).
    builder = EnvBuilder(Path(env_cache) if env_cache else None)
    t0 = time.perf_counter()
    envs = _build_all(parsed, builder, console)
    build_seconds = time.perf_counter() - t0
    # 3. Now the report directory and the database.
    from daskbench.store import open_store

    _make_dir(out_dir)
    open_store(db).close()  # create or migrate once, before the children race to do it
    arms = [Arm(spec, env) for spec, env in zip(parsed, envs, strict=True)]
    experiment = Experiment(
        arms,
        db=db,
        scale=scale or SCALE.default,
        paths=bench_paths,
        keyword=keyword,
        markexpr=markexpr,
        cluster_defaults=dict(cluster),
        log_dir=out_dir / "logs",
        run_options=run_options,
    )
    console.print(
        f"experiment {experiment.id}: {len(arms)} environments x {repeat} rounds (ABBA), "
        f"results in {mask_url(db)}",
        highlight=False,
    )
    needed, most = min_rounds(), design.max_rounds if design else repeat
    if most < needed:
        console.print(
            f"[yellow]note:[/] with {most} round(s) no comparison can be decided (that needs "
            f"{needed}+ rounds, 10+ recommended): expect 'inconclusive'",
            highlight=False,
        )
    labels = [a.label for a in arms]

    def analyse(rounds: int | None = None) -> ABComparison:
        with open_store(db, mode="read") as store:
            return compare_labels(
                store,
                labels[0],
                labels[1:],
                experiment=experiment.id,
                metrics=settings.metrics,
                alpha=settings.alpha,
                threshold=settings.threshold,
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
        db=mask_url(db),
        scale=experiment.scale,
        environments=_environments(parsed, envs, cmp),
        null_label=parsed[-1].name if null else None,
        confirmed=tuple(confirmed),
        confirm_rounds=experiment.rounds_done - repeat,
        command=mask_command(["daskbench", *sys.argv[1:]]),
    )
    code = _finish(cmp, ctx, out_dir, console, fail_on_regression=settings.fail_on_regression)
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
@click_options(DB_REQUIRED, defaults=True)
@click.option("--baseline", required=True, help="label of the baseline (A)")
@click.option("--candidate", "candidates", multiple=True, required=True, help="label(s) of B")
@click.option("--experiment", default=None, help="only runs of this ab experiment id")
@click.option("--unpaired", is_flag=True, help="never pair by round, even when runs are tagged")
@click_options(OUT_DIR.but(default="daskbench-out/compare"), *COMPARE, defaults=True)
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
    """Compare labels already in a database (e.g. two `daskbench run --label` runs).

    Reads the database only; writes the reports to --out.
    """
    from daskbench.store import open_store

    console = _console()
    settings = CompareOptions(metrics, alpha, threshold, fail_on_regression)
    if baseline in candidates:
        raise ConfigError(f"--candidate {baseline!r} is also the --baseline")
    out_dir = _out_dir(out)
    with open_store(db, mode="read") as store:
        if not store.labels():
            raise ConfigError(f"--db {mask_url(db)}: no runs stored yet")
        cmp = compare_labels(
            store,
            baseline,
            candidates,
            experiment=experiment,
            metrics=settings.metrics,
            alpha=settings.alpha,
            threshold=settings.threshold,
            paired=False if unpaired else None,
        )
    ctx = ReportContext(
        title=f"daskbench compare: {', '.join(candidates)} against {baseline}",
        experiment=experiment,
        db=mask_url(db),
        command=mask_command(["daskbench", *sys.argv[1:]]),
    )
    _make_dir(out_dir)
    return _finish(cmp, ctx, out_dir, console, fail_on_regression=settings.fail_on_regression)
