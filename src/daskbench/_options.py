"""Every shared option, declared once and mapped onto pytest and the ``daskbench`` commands.

An :class:`OptionSpec` says what an option is (name, type, default, help, choices, an
environment variable that gives its default); groups of them say which commands share it.
Two adapters turn a group into real options: :func:`add_options` for pytest's argparse-style
``addoption`` (with a ``--daskbench-`` prefix: ``pytest --daskbench-repeat 3``) and
:func:`click_options` for the CLI (``daskbench run --repeat 3``). A command that needs a
variant (``ab`` runs 5 rounds by default) derives it with :meth:`OptionSpec.but`, so the
name, type and choices stay those of the one declaration.

Values are validated once, where the objects they configure are built
(:class:`~daskbench.session.SessionOptions`, :class:`~daskbench.cluster.ClusterSpec`,
:class:`CompareOptions`), and commands build those before they create anything;
:func:`check_selection` validates ``-k``/``-m`` expressions and paths the same way::

    >>> [spec.name for spec in SIZING]
    ['workers', 'threads-per-worker', 'memory-limit']
    >>> REPEAT.but(default=5).default, REPEAT.dest
    (5, 'repeat')
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from daskbench.cluster import HEALTH_TIMEOUT
from daskbench.errors import ConfigError
from daskbench.metrics import check_verdict_metrics

__all__ = [
    "AB_MIN_TIME",
    "ALPHA",
    "COMPARE",
    "DB",
    "DB_ENV",
    "DB_REQUIRED",
    "EXECUTION",
    "FAIL_ON_REGRESSION",
    "KEYWORD",
    "MARKEXPR",
    "METRICS",
    "OPTIONS",
    "ORDERS",
    "PERFORMANCE_REPORT",
    "REPEAT",
    "RESET",
    "SCALE",
    "SCALES",
    "SIZING",
    "THRESHOLD",
    "TIMEOUT",
    "CompareOptions",
    "OptionSpec",
    "add_options",
    "check_selection",
    "click_options",
    "default_data_dir",
]

F = TypeVar("F", bound=Callable[..., Any])

SCALES = ("ci", "small", "large")
ORDERS = ("file", "reverse", "random")
#: The history database of every command that takes ``--db`` without naming one; how
#: ``daskbench ab`` hands the URL to its child runs without putting it on a command line.
DB_ENV = "DASKBENCH_DB"
DEFAULT_DB = "sqlite:///daskbench.db"


def default_data_dir() -> str:
    """Where generated benchmark inputs are cached: $DASKBENCH_DATA_DIR or the user cache."""
    env = os.environ.get("DASKBENCH_DATA_DIR")
    if env:
        return env
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "daskbench" / "data")


@dataclass(frozen=True)
class OptionSpec:
    """One option. ``default`` None means "not given" for the validators to fill in."""

    name: str  # dashed, without prefix: "threads-per-worker"
    type: type
    default: Any
    help: str
    choices: tuple[str, ...] | None = None
    short: str | None = None  # "-k": the CLI's only flag for it (pytest keeps its own -k)
    env: str | None = None  # environment variable giving the default when the flag is absent
    multiple: bool = False  # repeatable: the value is a tuple
    flag: bool = False  # on/off switch without a value
    required: bool = False
    dest_name: str | None = None
    default_text: str | None = None  # how help shows the default, when not ``default``

    @property
    def dest(self) -> str:
        return self.dest_name or self.name.replace("-", "_")

    def but(self, **changes: Any) -> OptionSpec:
        """The same option with some fields changed (another default or help for one command)."""
        return dataclasses.replace(self, **changes)

    def env_default(self) -> Any:
        """The value of ``env`` if set (and non-empty), else None."""
        value = os.environ.get(self.env, "") if self.env else ""
        return value or None

    def shown_default(self) -> str:
        """The default as help shows it ("" when there is none to show)."""
        default = "" if self.default is None else str(self.default)
        if isinstance(self.default, tuple):
            default = ", ".join(self.default)
        if self.default_text is not None:
            default = self.default_text
        if self.env:
            return f"${self.env} or {default}" if default else f"${self.env}"
        return default

    def help_text(self, open_: str = "[", close: str = "]") -> str:
        if self.required:  # the CLI says [required] itself
            return f"{self.help} {open_}or ${self.env}{close}" if self.env else self.help
        shown = "" if self.flag else self.shown_default()
        return f"{self.help} {open_}default: {shown}{close}" if shown else self.help


# -- the declarations -------------------------------------------------------------------------
DB = OptionSpec(
    "db",
    str,
    DEFAULT_DB,
    "history database URL (sqlite:///x.db, postgresql://...)",
    env=DB_ENV,
)
#: Commands other than ``run`` need the database named: --db or $DASKBENCH_DB.
DB_REQUIRED = DB.but(default=None, required=True)
SCALE = OptionSpec("scale", str, "ci", "workload size", SCALES)
CLUSTER = OptionSpec("cluster", str, "local", "local | scheduler address | package.module:callable")
WORKERS = OptionSpec(
    "workers", int, None, "workers of the local cluster (default: sized to the machine)"
)
THREADS = OptionSpec("threads-per-worker", int, None, "threads per worker of the local cluster")
MEMORY_LIMIT = OptionSpec(
    "memory-limit", str, None, "memory limit per worker of the local cluster, e.g. 4GiB"
)
SIZING = (WORKERS, THREADS, MEMORY_LIMIT)
REPEAT = OptionSpec("repeat", int, 1, "rounds: every benchmark once per round, round-robin")
LABEL = OptionSpec("label", str, "default", "label of this run (environment or experiment name)")
DATA_DIR = OptionSpec(
    "data-dir", str, None, "directory or fsspec URL for generated inputs (cached)"
)
RESET = OptionSpec(
    "reset", str, "restart", "reset the cluster before each benchmark", ("restart", "none")
)
TIMEOUT = OptionSpec(
    "timeout", float, 1800.0, "seconds before a benchmark is stopped as timed out (0: never)"
)

#: Two warm-ups: after a restart the workers are fresh processes, and after one unmeasured
#: execution the groupby's tasks/p2p interval missed a direct warm loop's estimate (what one
#: leaves is larger under p2p); after two, daskbench's medians are 0.94-1.02x a direct warm
#: loop's and every interval contains it (``perf/ab_fidelity.py``, README "Why these defaults").
WARMUP = OptionSpec(
    "warmup",
    int,
    2,
    "unmeasured executions of each benchmark before the measured one(s), in the same "
    "cluster state (0: none)",
)
MIN_TIME = OptionSpec(
    "min-time",
    float,
    0.0,
    "execute a benchmark's block again (each a value) until the measured time of the "
    "round reaches this many seconds (0: once per round)",
)
ORDER = OptionSpec(
    "order",
    str,
    "file",
    "order of the benchmarks within a round (random: a new permutation each round)",
    ORDERS,
)
SEED = OptionSpec("seed", int, None, "seed of --order random (default: chosen and stored)")
HEALTH = OptionSpec(
    "health-timeout",
    float,
    HEALTH_TIMEOUT,
    "seconds to wait for lost workers to come back before a benchmark is recorded as an "
    "error (degraded cluster)",
)
#: How each benchmark executes within a round (``ab`` passes them on to every run).
EXECUTION = (WARMUP, MIN_TIME, ORDER, SEED, HEALTH)
#: ``ab`` measures every benchmark for at least a second per round: most ``ci`` benchmarks
#: take 0.05-0.5 s, and one execution's jitter then dominates a round. A/As of the whole ``ci``
#: suite on a quiet host, 10 rounds, wall-time MDE: median 15.7%, max 78% with one execution;
#: 8.9%, 34% with a second (rounds 1.4x as long, 1.8x fewer of them for a 10% MDE; README
#: "What a measurement is"). A plain run keeps one execution per round.
AB_MIN_TIME = MIN_TIME.but(default=1.0)
PERFORMANCE_REPORT = OptionSpec(
    "performance-report",
    str,
    None,
    "directory for Dask's performance report (HTML) of each benchmark's first measured "
    "execution (needs bokeh)",
)

#: The options of one run, shared by ``daskbench run`` and ``pytest --daskbench-*``.
OPTIONS: tuple[OptionSpec, ...] = (
    DB,
    SCALE,
    CLUSTER,
    *SIZING,
    REPEAT,
    LABEL,
    DATA_DIR,
    RESET,
    TIMEOUT,
    *EXECUTION,
    PERFORMANCE_REPORT,
)

# Selection (the CLI's; pytest has its own -k/-m and paths).
KEYWORD = OptionSpec("keyword", str, None, "only benchmarks matching this expression", short="-k")
MARKEXPR = OptionSpec(
    "markexpr", str, None, "only benchmarks matching this mark expression", short="-m"
)

# Comparing labels (``ab``, ``compare``).
DEFAULT_METRICS = ("wall_time", "peak_memory", "avg_memory")
METRICS = OptionSpec(
    "metric",
    str,
    DEFAULT_METRICS,
    "metric to compare (repeatable)",
    multiple=True,
    dest_name="metrics",
)
ALPHA = OptionSpec("alpha", float, 0.05, "false discovery rate per candidate")
THRESHOLD = OptionSpec("threshold", float, 0.05, "smallest relative change worth reporting")
FAIL_ON_REGRESSION = OptionSpec(
    "fail-on-regression",
    bool,
    False,
    "exit 1 when any candidate (not the A/A control) has a 'regressed' verdict",
    flag=True,
)
COMPARE = (FAIL_ON_REGRESSION, METRICS, ALPHA, THRESHOLD)

# Reading and writing files.
OUT_DIR = OptionSpec("out", str, None, "report directory")
FORMAT = OptionSpec("format", str, None, "output format", dest_name="fmt")


# -- adapters ------------------------------------------------------------------------------
def add_options(
    addoption: Callable[..., Any],
    prefix: str = "",
    specs: Iterable[OptionSpec] = OPTIONS,
) -> None:
    """Declare ``specs`` through an argparse-style ``addoption`` (pytest's parser group)."""
    for spec in specs:
        kwargs: dict[str, Any] = {
            "dest": f"daskbench_{spec.dest}",
            # None = not given; the validators apply the defaults. An environment variable
            # counts as given (read now: pytest parses options once per process).
            "default": spec.env_default(),
            "help": spec.help_text("(", ")"),
        }
        if spec.flag:
            kwargs["action"] = "store_true"
        elif spec.multiple:
            kwargs["action"] = "append"
        if spec.choices:
            kwargs["choices"] = spec.choices
        if spec.type not in (str, bool):
            kwargs["type"] = spec.type
        addoption(f"--{prefix}{spec.name}", **kwargs)


def click_options(*specs: OptionSpec, defaults: bool = False) -> Callable[[F], F]:
    """A decorator adding ``specs`` to a click command, in the order given.

    With ``defaults=False`` (``run``: SessionOptions fills them in) an absent option is None;
    with ``defaults=True`` the declared default is the value. Either way ``env`` applies.
    """
    import click

    def decorate(func: F) -> F:
        for spec in reversed(specs):
            flags = [spec.short] if spec.short else [f"--{spec.name}"]
            kwargs: dict[str, Any] = {"help": spec.help_text(), "required": spec.required}
            if spec.env:
                kwargs["envvar"] = spec.env
            if spec.flag:
                kwargs.update(is_flag=True, default=False)
            else:
                if defaults and spec.default is not None:
                    # (An explicit default=None would satisfy ``required`` in click >= 8.3.)
                    kwargs["default"] = spec.default
                if spec.multiple:
                    kwargs["multiple"] = True
                    kwargs["default"] = ()
                if spec.choices:
                    kwargs["type"] = click.Choice(spec.choices)
                elif spec.type is not str:
                    kwargs["type"] = spec.type
            func = click.option(*flags, spec.dest, **kwargs)(func)
        return func

    return decorate


# -- validation shared by several commands ------------------------------------------------
@dataclass(frozen=True)
class CompareOptions:
    """Validated settings of a comparison of labels (``ab``, ``compare``)."""

    metrics: tuple[str, ...] = DEFAULT_METRICS
    alpha: float = 0.05
    threshold: float = 0.05
    fail_on_regression: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "metrics", tuple(self.metrics) or DEFAULT_METRICS)
        if not (math.isfinite(self.alpha) and 0 < self.alpha < 1):
            raise ConfigError(f"--alpha must be in (0, 1), got {self.alpha}")
        if not (math.isfinite(self.threshold) and self.threshold >= 0):
            raise ConfigError(f"--threshold must be >= 0 (0.05 = 5%), got {self.threshold}")
        empty = [m for m in self.metrics if not m.strip()]
        if empty:
            raise ConfigError("--metric must not be empty")
        check_verdict_metrics(self.metrics)


def _check_expression(flag: str, expr: str) -> None:
    try:
        from _pytest.mark.expression import Expression
    except ImportError:  # pragma: no cover - pytest moved it: pytest itself will complain
        return
    try:
        Expression.compile(expr)
    except Exception as exc:  # pytest raises SyntaxError or its own ParseError
        raise ConfigError(f"{flag} {expr!r}: {exc}") from None


def check_selection(
    paths: Sequence[str] = (), keyword: str | None = None, markexpr: str | None = None
) -> None:
    """ConfigError for a path that does not exist or a ``-k``/``-m`` pytest cannot parse.

    >>> check_selection(keyword="sum and not (slow")
    Traceback (most recent call last):
    ...
    daskbench.errors.ConfigError: -k 'sum and not (slow': ...
    """
    missing = [p for p in paths if not Path(p.split("::")[0]).exists()]
    if missing:
        raise ConfigError(f"no such file or directory: {missing[0]}")
    if keyword:
        _check_expression("-k", keyword)
    if markexpr:
        _check_expression("-m", markexpr)
