"""Round order, test selection and the command line of each environment's process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from daskbench.ab import parse_spec
from daskbench.ab._runner import Arm, Experiment, abba_order, select_tests_expr
from daskbench.ab._venv import BuiltEnv
from daskbench.errors import ConfigError


def test_abba_order() -> None:
    arms = ["a", "b", "c"]
    assert [abba_order(arms, r) for r in range(3)] == [
        ["a", "b", "c"],
        ["c", "b", "a"],
        ["a", "b", "c"],
    ]


def test_select_tests_expr() -> None:
    assert select_tests_expr(["test_b", "test_a[p2p]"]) == "test_a[p2p] or test_b"
    assert select_tests_expr(["test_x[a b]", "test_x[c d]"], "fast") == "(fast) and (test_x)"


def make_arm(data: dict[str, object], name: str) -> Arm:
    spec = parse_spec({"name": name, **data}, f"{name}.yaml")
    return Arm(spec, BuiltEnv(sys.executable, None, cached=True, seconds=0.0))


def test_command_and_environment() -> None:
    arm = make_arm(
        {
            "cluster": {"workers": 3, "memory_limit": "2GiB"},
            "config": {"dataframe.shuffle.method": "p2p"},
            "env": {"MY_VAR": "1"},
        },
        "cand",
    )
    exp = Experiment(
        [arm],
        db="sqlite:///x.db",
        paths=["bench.py"],
        keyword="shuffle",
        markexpr="dataframe",
        cluster_defaults={"workers": 1, "threads_per_worker": 2},
    )
    cmd = exp.command(arm)
    assert cmd[:5] == [sys.executable, "-m", "daskbench.cli", "run", "bench.py"]
    joined = " ".join(cmd)
    assert "--label cand" in joined
    assert "--repeat 1" in joined
    assert "--workers 3 --threads-per-worker 2 --memory-limit 2GiB" in joined  # spec wins
    assert cmd[cmd.index("-k") + 1] == "shuffle"
    assert cmd[-2:] == ["-m", "dataframe"]
    assert exp.command(arm, ["test_a"])[cmd.index("-k") + 1] == "(shuffle) and (test_a)"
    env = exp.environ(arm, 3)
    assert env["MY_VAR"] == "1"
    assert env["DASK_DATAFRAME__SHUFFLE__METHOD"] == "'p2p'"
    tags = json.loads(env["DASKBENCH_RUN_EXTRA"])
    assert tags["experiment"] == exp.id
    assert tags["round"] == 3
    assert tags["ab_env"] == "cand"


def test_usage_error_aborts_but_a_later_failure_does_not(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    codes = iter([0, 2, 2])

    def fake_run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        err = "daskbench: error: could not restart the cluster's workers\n"
        return subprocess.CompletedProcess(cmd, next(codes), "", err)

    monkeypatch.setattr(subprocess, "run", fake_run)
    arm = make_arm({}, "a")
    exp = Experiment([arm], db="sqlite:///x.db", log_dir=tmp_path)
    seen: list[int] = []
    exp.run_round(on_done=lambda r, a, code: seen.append(code))  # fine
    exp.run_round(on_done=lambda r, a, code: seen.append(code))  # cluster failure: go on
    assert seen == [0, 2]
    assert "could not restart" in exp.last_error
    fresh = Experiment([make_arm({}, "b")], db="sqlite:///x.db")
    with pytest.raises(ConfigError, match=r"b, round 1: could not restart"):
        fresh.run_round()  # never worked: a usage problem, stop before wasting rounds
