"""Interleaved rounds: every environment runs the selected benchmarks once per round.

Round ``r`` runs the environments in order A, B, C when ``r`` is even and C, B, A when odd
(ABBA): slow drifts of the machine (thermal state, other load, caches) then hit every
environment equally on average, and results of one round can be paired. Each environment
runs in its own ``python -m daskbench.cli run --repeat 1`` process, so each gets a fresh
cluster, its own packages, dask config (``DASK_*`` variables) and environment variables.
Every run is tagged through ``$DASKBENCH_RUN_EXTRA`` with the experiment id and round, and
gets the database URL through ``$DASKBENCH_DB``, never on its command line (which other
users can see, and which is stored and logged). A child's exit code is read with
:class:`~daskbench.errors.ExitCode`, like every other exit code of daskbench.

    >>> abba_order(["a", "b"], 0), abba_order(["a", "b"], 1)
    (['a', 'b'], ['b', 'a'])
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from daskbench._options import DB_ENV
from daskbench._secrets import is_secret_key, mask_command, mask_text, url_secrets
from daskbench.ab._spec import EnvSpec
from daskbench.ab._venv import BuiltEnv
from daskbench.errors import (
    ConfigError,
    DaskbenchError,
    ExitCode,
    Interrupted,
    NothingSelected,
)
from daskbench.session import RUN_EXTRA_ENV

__all__ = ["Arm", "Experiment", "abba_order", "new_experiment_id", "select_tests_expr"]

T = TypeVar("T")
# Shorter values of secret-looking variables are flags ("1", "true"), not secrets.
_MIN_SECRET = 6
# What pytest's -k grammar accepts as one identifier (matched as a substring of names).
_K_IDENT = re.compile(r"^[\w:+\-.\[\]\\/]+$")


def new_experiment_id() -> str:
    return f"ab-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def abba_order(items: Sequence[T], round_index: int) -> list[T]:
    """Forward on even rounds, reversed on odd ones."""
    return list(items) if round_index % 2 == 0 else list(reversed(items))


def select_tests_expr(tests: Iterable[str], keyword: str | None = None) -> str:
    """A ``-k`` expression selecting (at least) ``tests``, within the user's ``-k``.

    ``-k`` matches substrings, so ``test_a`` also selects ``test_ab``; the extra results
    are harmless (they are just more rounds). Names pytest cannot parse fall back to the
    function name.
    """
    idents = []
    for test in sorted(set(tests)):
        name = test if _K_IDENT.match(test) else test.split("[", 1)[0]
        if name not in idents:
            idents.append(name)
    expr = " or ".join(idents)
    return f"({keyword}) and ({expr})" if keyword else expr


@dataclass(frozen=True)
class Arm:
    """One environment of the experiment: its spec, label and interpreter."""

    spec: EnvSpec
    env: BuiltEnv

    @property
    def label(self) -> str:
        return self.spec.name


@dataclass
class Experiment:
    """Runs rounds of the selected benchmarks across the arms, one process each."""

    arms: Sequence[Arm]
    db: str
    scale: str = "ci"
    paths: Sequence[str] = ()
    keyword: str | None = None
    markexpr: str | None = None
    cluster_defaults: dict[str, object] = field(default_factory=dict)
    log_dir: Path | None = None
    id: str = field(default_factory=new_experiment_id)
    #: Options of ``daskbench run`` for every arm (dest -> value; None = not given); a spec's
    #: own ``run:`` entries override them for its arm.
    run_options: dict[str, object] = field(default_factory=dict)
    rounds_done: int = 0
    last_error: str = ""
    _worked: set[str] = field(default_factory=set)

    def command(self, arm: Arm, tests: Iterable[str] | None = None) -> list[str]:
        """The child's command line: no database URL (that is in :meth:`environ`)."""
        cmd = [arm.env.python, "-m", "daskbench.cli", "run", *self.paths]
        cmd += ["--label", arm.label, "--scale", self.scale, "--repeat", "1"]
        cluster = {**self.cluster_defaults, **arm.spec.cluster}
        for key in ("workers", "threads_per_worker", "memory_limit"):
            if cluster.get(key) is not None:
                cmd += ["--" + key.replace("_", "-"), str(cluster[key])]
        for key, value in {**self.run_options, **arm.spec.run}.items():
            if value is not None:
                cmd += ["--" + key.replace("_", "-"), str(value)]
        keyword = select_tests_expr(tests, self.keyword) if tests is not None else self.keyword
        if keyword:
            cmd += ["-k", keyword]
        if self.markexpr:
            cmd += ["-m", self.markexpr]
        return cmd

    def environ(self, arm: Arm, round_index: int) -> dict[str, str]:
        env = dict(os.environ)
        env.update(arm.spec.env)
        env.update(arm.spec.dask_env())
        tags = {
            "experiment": self.id,
            "round": round_index,
            "ab_env": arm.label,
            "ab_spec": arm.spec.source,
            "ab_spec_digest": arm.spec.digest(),
            "ab_venv": arm.env.key,
        }
        env[RUN_EXTRA_ENV] = json.dumps(tags)
        env[DB_ENV] = self.db
        # A child must not inherit a parent's terminal width tricks or our progress bar.
        env.setdefault("COLUMNS", "120")
        return env

    def run_round(
        self,
        tests: Iterable[str] | None = None,
        *,
        on_start: Callable[[int, Arm], None] | None = None,
        on_done: Callable[[int, Arm, int], None] | None = None,
    ) -> None:
        """One round: every arm once, in ABBA order. Raises on a child's usage error."""
        selected = list(tests) if tests is not None else None
        round_index = self.rounds_done
        for arm in abba_order(self.arms, round_index):
            if on_start:
                on_start(round_index, arm)
            code = self._invoke(arm, round_index, selected)
            if on_done:
                on_done(round_index, arm, code)
        self.rounds_done += 1

    def _invoke(self, arm: Arm, round_index: int, tests: list[str] | None) -> int:
        log = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log = self.log_dir / f"round{round_index:03d}-{arm.label}.log"
        cmd = self.command(arm, tests)
        env = self.environ(arm, round_index)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        secrets = self.secrets(env)
        if log is not None:
            text = f"$ {mask_command(cmd, secrets)}\n{proc.stdout}\n{proc.stderr}"
            log.write_text(mask_text(text, secrets))
        where = f"{arm.label}, round {round_index + 1}"
        self.last_error = ""
        status = ExitCode.of_status(proc.returncode)
        if status in (ExitCode.OK, ExitCode.FAILED):  # failed benchmarks are counted
            self._worked.add(arm.label)
            return proc.returncode
        message = mask_text(_child_error(proc.stderr) or _child_error(proc.stdout), secrets)
        hint = f" (log: {log})" if log is not None else ""
        if status is ExitCode.USAGE and arm.label in self._worked:
            # This environment ran fine before, so this is no usage error but e.g. a cluster
            # that failed to restart: the run stopped, its finished results are stored, and
            # the experiment goes on (the missing results just give fewer pairs).
            self.last_error = f"{message}{hint}"
            return proc.returncode
        if status is ExitCode.NO_TESTS:
            raise NothingSelected(f"{where}: no benchmarks selected{hint}")
        if status is ExitCode.USAGE:
            raise ConfigError(f"{where}: {message or 'daskbench run failed'}{hint}")
        if status in (ExitCode.INTERRUPTED, ExitCode.TERMINATED):
            raise Interrupted(
                f"{where}: the run was stopped by a signal; finished rounds are stored{hint}",
                status,
            )
        raise DaskbenchError(
            f"{where}: daskbench run exited with code {proc.returncode}: {message}{hint}"
        )

    def secrets(self, env: dict[str, str]) -> list[str]:
        """Values that must not reach a log: the database's password and tokens, and the
        values of secret-looking environment variables (DASK_COILED__TOKEN, ...)."""
        values = [v for k, v in env.items() if is_secret_key(k) and len(v) >= _MIN_SECRET]
        return [*url_secrets(self.db), *values]


def _child_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for line in reversed(lines):
        if line.startswith("daskbench: error:"):
            return line.removeprefix("daskbench: error:").strip()
    return lines[-1] if lines else ""
