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
from daskbench.errors import ConfigError, ExitCode, Interrupted, NothingSelected


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
    assert env["DASKBENCH_DB"] == "sqlite:///x.db"  # the URL travels in the environment
    assert "sqlite:///x.db" not in joined
    assert "--db" not in cmd


PG = "postgresql://bench:pl@nted/pw@db.example:5432/hist?sslmode=require&password=planted-q"


def test_database_url_and_tokens_never_reach_argv_or_logs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: dict[str, object] = {}

    def fake_run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        seen["cmd"], seen["env"] = cmd, kwargs["env"]
        # What a careless child could print: the URL, its password, a token.
        out = f"connecting to {PG}\ntoken planted-token-123 pl@nted/pw\n"
        return subprocess.CompletedProcess(cmd, 0, out, "")

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setenv("DASK_COILED__TOKEN", "planted-token-123")
    arm = make_arm({"env": {"MY_API_KEY": "planted-key-456"}}, "a")
    exp = Experiment([arm], db=PG, log_dir=tmp_path)
    exp.run_round()
    assert not any("planted" in arg or "pl@nted" in arg for arg in seen["cmd"])
    assert seen["env"]["DASKBENCH_DB"] == PG  # type: ignore[index]
    (log,) = tmp_path.glob("*.log")
    text = log.read_text()
    assert "connecting to postgresql://bench:***@db.example:5432/hist" in text
    for planted in ("pl@nted", "planted-q", "planted-token-123", "planted-key-456"):
        assert planted not in text


@pytest.mark.parametrize(
    ("status", "error", "code"),
    [
        (5, NothingSelected, ExitCode.NO_TESTS),
        (130, Interrupted, ExitCode.INTERRUPTED),
        (-2, Interrupted, ExitCode.INTERRUPTED),
        (143, Interrupted, ExitCode.TERMINATED),
        (-15, Interrupted, ExitCode.TERMINATED),
        (2, ConfigError, ExitCode.USAGE),
    ],
)
def test_child_exit_codes_are_read_with_the_one_table(
    monkeypatch: pytest.MonkeyPatch, status: int, error: type[Exception], code: ExitCode
) -> None:
    def fake_run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(cmd, status, "", "")

    monkeypatch.setattr(subprocess, "run", fake_run)
    exp = Experiment([make_arm({}, "a")], db="sqlite:///x.db")
    with pytest.raises(error) as info:
        exp.run_round()
    assert info.value.exit_code is code  # type: ignore[attr-defined]


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
