"""``daskbench noise``: how noisy each benchmark is, and what an A/B of it can detect.

Reads stored runs only. One label: the noise of its runs (each round of an ``ab`` experiment,
or each repeat of a plain run, is one value; the executions of one round count once). Two
labels: the noise seen through the rounds of an A/A ``ab`` experiment, paired by round, which
is what a real A/B of the same selection will face. From the per-run noise (a robust CV of
log values) the planned minimum detectable effect at ``--rounds`` paired rounds and the
rounds each ``--effect`` needs follow from the same t test ``daskbench ab`` uses, in a
family of every compared benchmark x metric (a lone change must pass ``alpha / family``).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from daskbench._options import ALPHA, DB_REQUIRED, FORMAT, METRICS, click_options
from daskbench._secrets import mask_url
from daskbench.ab._compare import ArmSamples, arm_values, load_arm
from daskbench.errors import ConfigError
from daskbench.stats import Noise, noise_cv, noise_plan, paired_noise_cv
from daskbench.store import Store

__all__ = ["NoiseReport", "NoiseRow", "measure_noise", "noise"]

MIN_VALUES = 3  # fewer runs say nothing useful about a spread


@dataclass(frozen=True)
class NoiseRow:
    """One benchmark x metric: ``n`` values (rounds or repeats); ``noise`` None if too few."""

    test: str
    metric: str
    n: int
    noise: Noise | None

    @property
    def note(self) -> str:
        return "" if self.noise else f"too few values ({self.n}; needs {MIN_VALUES})"


@dataclass(frozen=True)
class NoiseReport:
    labels: tuple[str, ...]
    paired: bool
    rounds: int
    effects: tuple[float, ...]
    alpha: float
    family_size: int
    rows: tuple[NoiseRow, ...]

    def mde_summary(self, metric: str) -> tuple[float, float] | None:
        """Median and max planned MDE of ``metric`` over the benchmarks with an estimate."""
        mdes = [r.noise.mde for r in self.rows if r.metric == metric and r.noise]
        return (statistics.median(mdes), max(mdes)) if mdes else None

    @property
    def metrics(self) -> list[str]:
        return list(dict.fromkeys(r.metric for r in self.rows))


def measure_noise(
    store: Store,
    labels: Sequence[str],
    *,
    metrics: Sequence[str],
    experiment: str | None = None,
    rounds: int = 10,
    effects: Sequence[float] = (0.05, 0.10),
    alpha: float = 0.05,
    family_size: int | None = None,
) -> NoiseReport:
    """The noise of every benchmark x metric of ``labels`` (one, or two run as A/A)."""
    if not 1 <= len(labels) <= 2:
        raise ConfigError(
            f"--label: give one label, or two of an A/A experiment, not {len(labels)}"
        )
    if len(set(labels)) != len(labels):
        raise ConfigError(f"--label {labels[0]!r} given twice")
    if rounds < 3:
        raise ConfigError(f"--rounds must be at least 3, got {rounds}")
    if not effects or any(not 0.0 < e < 1.0 for e in effects):
        raise ConfigError(f"--effect must be fractions in (0, 1), got {list(effects)}")
    if family_size is not None and family_size < 1:
        raise ConfigError(f"--family-size must be at least 1, got {family_size}")
    arms = [load_arm(store, label, experiment=experiment) for label in labels]
    paired = len(arms) == 2
    if paired and not all(_tagged(arm) for arm in arms):
        raise ConfigError(
            f"--label {labels[0]} --label {labels[1]}: two labels are compared by round, and "
            "these runs are not rounds of one `daskbench ab` experiment; give one label"
        )
    tests = sorted(set.intersection(*(set(arm.passed) for arm in arms)))
    if not tests:
        raise ConfigError(f"no passed results in {' and '.join(labels)}")
    cvs: list[tuple[str, str, int, float]] = []
    for test in tests:
        for metric in metrics:
            cv, n = _cv(arms, test, metric)
            if n:
                cvs.append((test, metric, n, cv))
    if not cvs:
        raise ConfigError(f"none of the metrics {', '.join(metrics)} was measured")
    usable = [c for c in cvs if c[2] >= MIN_VALUES and math.isfinite(c[3])]
    family = family_size or max(1, len(usable))
    rows = tuple(
        NoiseRow(
            test,
            metric,
            n,
            noise_plan(cv, n, rounds=rounds, effects=effects, alpha=alpha, family_size=family)
            if n >= MIN_VALUES and math.isfinite(cv)
            else None,
        )
        for test, metric, n, cv in cvs
    )
    return NoiseReport(tuple(labels), paired, rounds, tuple(effects), alpha, family, rows)


def _tagged(arm: ArmSamples) -> bool:
    return any(key is not None for items in arm.passed.values() for key, _ in items)


def _cv(arms: Sequence[ArmSamples], test: str, metric: str) -> tuple[float, int]:
    """Per-run CV of ``test``/``metric`` and the number of values it came from."""
    if len(arms) == 1:
        values = [v for v in arm_values(arms[0], test, metric, paired=False).values() if v > 0]
        return (noise_cv(values) if len(values) >= 2 else math.nan), len(values)
    va, vb = (arm_values(arm, test, metric, paired=True) for arm in arms)
    common = sorted(k for k in va.keys() & vb.keys() if va[k] > 0 and vb[k] > 0)
    if len(common) < 2:
        return math.nan, len(common)
    return paired_noise_cv([va[k] for k in common], [vb[k] for k in common]), len(common)


# -- command line ---------------------------------------------------------------------------------
@click.command()
@click_options(DB_REQUIRED, defaults=True)
@click.option(
    "--label",
    "labels",
    multiple=True,
    required=True,
    help="label of the runs; twice: the two labels of an A/A `daskbench ab` (paired by round)",
)
@click.option("--experiment", default=None, help="only runs of this ab experiment id")
@click_options(METRICS.but(default=("wall_time",)), ALPHA, defaults=True)
@click.option(
    "--rounds", type=int, default=10, show_default=True, help="paired rounds of the planned A/B"
)
@click.option(
    "--effect",
    "effects",
    type=float,
    multiple=True,
    default=(0.05, 0.10),
    show_default=True,
    help="effect (fraction) to plan for: the rounds it needs (repeatable)",
)
@click.option(
    "--family-size",
    type=int,
    default=None,
    help="comparisons corrected together [default: every benchmark x metric of the table]",
)
@click_options(FORMAT.but(choices=("text", "markdown", "json"), default="text"), defaults=True)
@click.option("--output", type=click.Path(path_type=Path), default=None, help="write to a file")
def noise(
    db: str,
    labels: tuple[str, ...],
    experiment: str | None,
    metrics: tuple[str, ...],
    alpha: float,
    rounds: int,
    effects: tuple[float, ...],
    family_size: int | None,
    fmt: str,
    output: Path | None,
) -> int:
    """How noisy each benchmark is, the smallest change an A/B of --rounds rounds can detect
    (MDE) and the rounds each --effect needs. Reads the database only.

    Measure first, best an A/A: `daskbench ab base.yaml --null --repeat 10`, then
    `daskbench noise --db sqlite:///daskbench-out/ab/ab.db --label base --label base-null`;
    or give one label of repeated runs.
    """
    from daskbench.errors import ExitCode
    from daskbench.report._noise import noise_json, noise_markdown, noise_text
    from daskbench.store import open_store

    with open_store(db, mode="read") as store:
        if not store.labels():
            raise ConfigError(f"--db {mask_url(db)}: no runs stored yet")
        report = measure_noise(
            store,
            labels,
            metrics=metrics or ("wall_time",),  # (a repeatable option's default is ())
            experiment=experiment,
            rounds=rounds,
            effects=effects,
            alpha=alpha,
            family_size=family_size,
        )
    render = {"text": noise_text, "markdown": noise_markdown, "json": noise_json}[fmt]
    text = render(report)
    if output is None:
        click.echo(text, nl=False)
    else:
        tmp = output.with_name(output.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(output)
    return ExitCode.OK
