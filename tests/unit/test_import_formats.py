"""asv and pytest-benchmark parsing: mapping details and one-line errors on bad input.

The real files made by running the tools are tested in tests/integration/test_import_tools.py;
these are small hand-made inputs for the edge cases and errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from daskbench.errors import ConfigError
from daskbench.history._asv import parse_asv
from daskbench.history._imported import import_foreign, parse_foreign
from daskbench.history._pytest_benchmark import parse_pytest_benchmark
from daskbench.models import Outcome
from daskbench.store import open_store

COLUMNS = ["result", "params", "version", "started_at", "duration", "samples"]


def asv_dir(tmp_path: Path, results: dict, *, env: str = "py3.11", **top) -> Path:
    root = tmp_path / "results"
    (root / "box").mkdir(parents=True, exist_ok=True)
    (root / "box" / "machine.json").write_text(json.dumps({"machine": "box", "cpu": "X"}))
    data = {
        "commit_hash": "abcdef1234567890", "env_name": env, "date": 1_767_225_600_000,
        "params": {"machine": "box", "python": "3.11"}, "python": "3.11",
        "requirements": {"numpy": "2.1", "pandas": ""}, "env_vars": {},
        "result_columns": COLUMNS, "results": results, "version": 2, **top,
    }  # fmt: skip
    (root / "box" / f"abcdef12-{env}.json").write_text(json.dumps(data))
    (root / "benchmarks.json").write_text(json.dumps({"version": 2}))
    return root


def test_asv_params_samples_nan_and_failures(tmp_path: Path) -> None:
    root = asv_dir(
        tmp_path,
        {
            "mod.time_x": [[1.0, float("nan")], [["'a'", "'b'"]], "v", 1_767_225_601_000, 2.0,
                           [[1.0, 1.1], None]],
            "mod.peakmem_y": [None, [], "v", 1_767_225_602_000, 0.5],
            "mod.track_z": [[3], []],
        },
    )  # fmt: skip
    batch = parse_asv(tmp_path / "results")
    (run,) = batch.runs
    assert (run.id, run.label) == ("box/py3.11@abcdef123456", "box/py3.11")
    assert run.environment.packages == {"numpy": "2.1"}  # unpinned requirements left out
    assert run.environment.python_version == "3.11"
    assert run.environment.cpu_model == "X"
    got = [(r.test, r.repeat, r.outcome, r.metrics) for r in batch.results]
    assert got == [
        ("mod.peakmem_y", 0, Outcome.FAILED, {}),
        ("mod.time_x[a]", 0, Outcome.PASSED, {"wall_time": 1.0}),
        ("mod.time_x[a]", 1, Outcome.PASSED, {"wall_time": 1.1}),
        ("mod.time_x[b]", 0, Outcome.SKIPPED, {}),
        ("mod.track_z", 0, Outcome.PASSED, {"track": 3.0}),
    ]
    assert parse_asv(root.parent).runs == batch.runs  # the project directory works too


def test_asv_label_for_several_environments_must_differ(tmp_path: Path) -> None:
    asv_dir(tmp_path, {"m.time_a": [[1.0], []]}, env="py3.11")
    asv_dir(tmp_path, {"m.time_a": [[1.0], []]}, env="py3.12")
    assert len(parse_asv(tmp_path / "results").runs) == 2
    with pytest.raises(ConfigError, match="give each machine and environment its own label"):
        parse_asv(tmp_path / "results", label="one")


def test_asv_ambiguous_unquoted_params_keep_reprs(tmp_path: Path) -> None:
    asv_dir(tmp_path, {"m.time_a": [[1.0, 2.0], [["'1'", "1"]]]})
    tests = [r.test for r in parse_asv(tmp_path / "results").results]
    assert tests == ["m.time_a['1']", "m.time_a[1]"]


@pytest.mark.parametrize(
    ("results", "top", "message"),
    [
        ({"m.time_a": {"x": 1}}, {}, r"field 'results.m.time_a': expected a list, got"),
        ({"m.time_a": [["x"], []]}, {}, r"field 'results.m.time_a.result\[0\]': expected a num"),
        ({"m.time_a": [[1.0, 2.0], []]}, {}, r"2 values for 1 parameter combinations"),
        ({}, {"version": 1}, r"result format version 1; .* `asv update`"),
        ({}, {"commit_hash": None}, r"field 'commit_hash': expected a string, got null"),
    ],
)
def test_asv_errors_name_file_and_field(tmp_path: Path, results, top, message) -> None:
    asv_dir(tmp_path, results, **top)
    with pytest.raises(ConfigError, match=message) as info:
        parse_asv(tmp_path / "results")
    assert "abcdef12-py3.11.json" in str(info.value)


def test_asv_not_json_and_empty(tmp_path: Path) -> None:
    root = asv_dir(tmp_path, {})
    (root / "box" / "abcdef12-py3.11.json").write_text('{\n  "commit_hash": ,\n}')
    with pytest.raises(ConfigError, match=r"abcdef12-py3.11.json:2: not valid JSON"):
        parse_asv(root)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="no asv result files"):
        parse_asv(empty)
    with pytest.raises(ConfigError, match="not a directory"):
        parse_asv(tmp_path / "nope")


def pb_file(path: Path, benchmarks: list, **top) -> Path:
    data = {
        "machine_info": {"node": "ci-1", "system": "Linux", "python_implementation": "CPython",
                         "python_version": "3.12.1", "release": "6.1", "machine": "x86_64",
                         "cpu": {"bits": 64, "count": 8, "brand_raw": "Xeon", "flags": ["sse"]}},
        "commit_info": {"id": "c0ffee", "dirty": True, "branch": "main", "project": "p"},
        "benchmarks": benchmarks, "datetime": "2026-01-02T03:04:05.000006+00:00",
        "version": "5.2.3", **top,
    }  # fmt: skip
    path.write_text(json.dumps(data))
    return path


def bench(name: str, fullname: str, **stats) -> dict:
    return {"name": name, "fullname": fullname, "stats": {"median": 0.5, **stats}}


def test_pytest_benchmark_mapping(tmp_path: Path) -> None:
    file = pb_file(
        tmp_path / "a.json",
        [
            bench("test_a[1]", "t/test_x.py::test_a[1]", data=[0.1, 0.2]),
            bench("test_b", "t/test_x.py::test_b"),
            bench("test_b", "t/test_y.py::test_b"),
        ],
    )
    batch = parse_pytest_benchmark(file)
    (run,) = batch.runs
    assert run.label == "Linux-CPython-3.12-64bit"
    assert run.id == "Linux-CPython-3.12-64bit@20260102T030405.000006Z"
    env = run.environment
    assert (env.git_commit, env.git_dirty, env.cpu_model, env.cpu_count) == ("c0ffee", True,
                                                                             "Xeon", 8)  # fmt: skip
    assert env.extra["hostname"] == "ci-1"
    assert env.extra["commit_branch"] == "main"
    got = [(r.test, r.repeat, r.metrics["wall_time"], r.path) for r in batch.results]
    assert got == [
        ("test_a[1]", 0, 0.1, "t/test_x.py::test_a[1]"),
        ("test_a[1]", 1, 0.2, "t/test_x.py::test_a[1]"),
        ("t/test_x.py::test_b", 0, 0.5, "t/test_x.py::test_b"),  # two test_b: full ids
        ("t/test_y.py::test_b", 0, 0.5, "t/test_y.py::test_b"),
    ]
    unversioned = pb_file(tmp_path / "b.json", [], commit_info={"id": "unversioned"},
                          datetime="2026-01-03T00:00:00")  # fmt: skip
    (run,) = parse_pytest_benchmark(unversioned, label="mine").runs
    assert (run.revision, run.label) == (None, "mine")


def test_pytest_benchmark_errors(tmp_path: Path) -> None:
    file = pb_file(tmp_path / "a.json", [bench("t", "f::t", median="slow")])
    with pytest.raises(ConfigError, match=r"a.json: field 'benchmarks\[0\].stats.median'"):
        parse_pytest_benchmark(file)
    file = pb_file(tmp_path / "a.json", [bench("t", "f::t", data=[1.0, None])])
    with pytest.raises(ConfigError, match=r"'benchmarks\[0\].stats.data\[1\]': expected a num"):
        parse_pytest_benchmark(file)
    file = pb_file(tmp_path / "a.json", [], datetime="yesterday")
    with pytest.raises(ConfigError, match="field 'datetime': not an ISO 8601 time"):
        parse_pytest_benchmark(file)
    with pytest.raises(ConfigError, match="no such file"):
        parse_pytest_benchmark(tmp_path / "missing.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"no pytest-benchmark \.json files"):
        parse_pytest_benchmark(tmp_path / "empty")


def test_import_is_one_idempotent_transaction(tmp_path: Path) -> None:
    file = pb_file(tmp_path / "a.json", [bench("t", "f::t", data=[0.1, 0.2, 0.3])])
    with open_store("memory://") as store:
        batch = parse_foreign("pytest-benchmark", file)
        first = import_foreign(store, batch, file)
        again = import_foreign(store, batch, file)
        assert first == f"imported 1 run(s), 3 result(s), 3 measurement(s) from {file}"
        assert again.endswith("already in the history: 1 run(s), 3 result(s)")
        assert len(store.results()) == 3
