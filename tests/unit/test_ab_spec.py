"""Spec files: every valid field round-trips; every bad one is a one-line ConfigError naming
the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from daskbench.ab import EnvSpec, load_spec, parse_spec
from daskbench.errors import ConfigError


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_full_spec(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    path = write(
        tmp_path,
        """
name: candidate
packages: ["dask==2026.8.0", "distributed @ git+https://github.com/dask/distributed@main", "./pkg"]
config:
  distributed.scheduler.worker-saturation: 1.1
  dataframe: {shuffle: {method: p2p}}
cluster: {workers: 2, threads_per_worker: 1, memory_limit: 4GiB}
env: {SOME_VAR: "1", OTHER: 2}
""",
    )
    spec = load_spec(path)
    assert spec.name == "candidate"
    assert spec.packages is not None
    assert spec.packages[:2] == (
        "dask==2026.8.0",
        "distributed @ git+https://github.com/dask/distributed@main",
    )
    assert spec.packages[2] == str((tmp_path / "pkg").resolve())  # relative to the spec file
    assert spec.config == {
        "dataframe.shuffle.method": "p2p",
        "distributed.scheduler.worker-saturation": 1.1,
    }
    assert spec.cluster == {"workers": 2, "threads_per_worker": 1, "memory_limit": "4GiB"}
    assert spec.env == {"SOME_VAR": "1", "OTHER": "2"}
    assert not spec.uses_current_environment


def test_defaults_name_from_file_and_current_environment(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, "", name="baseline.yaml"))
    assert spec == EnvSpec("baseline", source=str(tmp_path / "baseline.yaml"))
    assert spec.uses_current_environment
    assert spec.dask_env() == {}


def test_dask_env_keeps_types() -> None:
    spec = parse_spec(
        {"config": {"dataframe.shuffle.method": "tasks", "a.b-c": 1.5, "x": [1, "y"]}}, "s.yaml"
    )
    assert spec.dask_env() == {
        "DASK_DATAFRAME__SHUFFLE__METHOD": "'tasks'",
        "DASK_A__B_C": "1.5",
        "DASK_X": "[1, 'y']",
    }


def test_dask_env_is_read_back_by_dask(monkeypatch: pytest.MonkeyPatch) -> None:
    import dask.config

    spec = parse_spec({"config": {"distributed.scheduler.worker-saturation": 1.1}}, "s.yaml")
    cfg: dict[str, object] = {}
    dask.config.collect_env(env=spec.dask_env())  # parses without error
    dask.config.update(cfg, dask.config.collect_env(env=spec.dask_env()))
    assert cfg == {"distributed": {"scheduler": {"worker_saturation": 1.1}}}


def test_digest_ignores_name_and_source() -> None:
    a = parse_spec({"name": "a", "config": {"x": 1}}, "a.yaml")
    b = parse_spec({"name": "b", "config": {"x": 1}}, "b.yaml")
    c = parse_spec({"name": "a", "config": {"x": 2}}, "a.yaml")
    assert a.digest() == b.digest() != c.digest()
    assert a.renamed("a-null").name == "a-null"
    assert a.renamed("a-null").digest() == a.digest()


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("pakages: [dask]", "pakages: unknown field"),
        ("name: [x]", "name: expected a label"),
        ("name: 'has space'", "name: expected a label"),
        ("packages: dask", "packages: expected a list of requirement strings"),
        ("packages: [3]", "packages[0]: expected a requirement string"),
        ("packages: ['dask >>> 1']", "packages[0]: invalid requirement"),
        ("packages: ['--index-url=x']", "packages[0]: pip options are not allowed"),
        ("packages: ['./missing']", "packages[0]: local path './missing' does not exist"),
        ("config: [1]", "config: expected a mapping"),
        ("config: {a: null}", ""),  # None is a fine config value
        ("cluster: {workers: two}", "cluster.workers: expected an integer >= 1"),
        ("cluster: {workers: 0}", "cluster.workers: expected an integer >= 1"),
        ("cluster: {workers: true}", "cluster.workers: expected an integer >= 1"),
        ("cluster: {nodes: 2}", "cluster.nodes: unknown field"),
        ("cluster: {memory_limit: lots}", "cluster.memory_limit: cannot parse 'lots'"),
        ("cluster: 2", "cluster: expected a mapping"),
        ("env: {X: [1]}", "env.X: expected a string or number"),
        ("env: {'1X': a}", "env.1X: not a valid environment variable name"),
        ("env: [X]", "env: expected a mapping"),
        ("- a\n- b", "expected a mapping of fields, got list"),
        ("name: [unclosed", "invalid YAML (line"),
    ],
)
def test_bad_specs_name_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    path = write(tmp_path, text)
    if not field:
        load_spec(path)
        return
    with pytest.raises(ConfigError) as info:
        load_spec(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert field in message
    assert "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope.yaml: cannot read spec file"):
        load_spec(tmp_path / "nope.yaml")
