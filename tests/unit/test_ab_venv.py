"""The venv builder with a fake command runner: caching, atomic completion, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from daskbench.ab import parse_spec
from daskbench.ab._venv import EnvBuilder, default_env_cache, source_fingerprint
from daskbench.errors import ConfigError


class FakeRunner:
    """Records commands; fails the one containing ``fail_on``."""

    def __init__(self, fail_on: str | None = None, stderr: str = "") -> None:
        self.calls: list[list[str]] = []
        self.fail_on = fail_on
        self.stderr = stderr

    def __call__(self, cmd: Sequence[str], log: Path) -> subprocess.CompletedProcess[str]:
        cmd = list(cmd)
        self.calls.append(cmd)
        if self.fail_on and any(self.fail_on in part for part in cmd):
            return subprocess.CompletedProcess(cmd, 1, "", self.stderr)
        out = "2026.8.0 2026.8.0\n" if "-c" in cmd else ""
        return subprocess.CompletedProcess(cmd, 0, out, "")


SPEC = parse_spec({"name": "new", "packages": ["dask==2026.8.0"]}, "new.yaml")


def test_current_environment_needs_no_build(tmp_path: Path) -> None:
    runner = FakeRunner()
    env = EnvBuilder(tmp_path, runner=runner).build(parse_spec({}, "base.yaml"))
    assert env.python == sys.executable
    assert not env.isolated
    assert runner.calls == []
    assert not any(tmp_path.iterdir())


def test_key_depends_on_packages_only() -> None:
    builder = EnvBuilder(Path("/nonexistent"), runner=FakeRunner())
    other = parse_spec({"name": "x", "packages": ["dask==2025.1.0"]}, "x.yaml")
    same = parse_spec({"name": "y", "packages": ["dask==2026.8.0"], "env": {"A": 1}}, "y.yaml")
    assert builder.key(SPEC) == builder.key(same) != builder.key(other)
    assert builder.key(parse_spec({}, "z.yaml")) is None


@pytest.mark.parametrize("use_uv", [True, False])
def test_build_then_cached(tmp_path: Path, use_uv: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/uv" if use_uv else None)
    runner = FakeRunner()
    builder = EnvBuilder(tmp_path, runner=runner, use_uv=use_uv)
    first = builder.build(SPEC)
    assert not first.cached
    assert first.versions == "2026.8.0 2026.8.0"
    final = tmp_path / str(first.key)
    assert first.python == str(final / "bin" / "python")
    assert (final / "daskbench-env.json").is_file()
    assert not list(tmp_path.glob(".build-*"))  # the build directory was renamed
    create, install, check = runner.calls
    assert create[:2] == (["/usr/bin/uv", "venv"] if use_uv else [sys.executable, "-m"])
    assert install[-1] == "dask==2026.8.0"
    assert any("daskbench" in part for part in install[:-1])  # daskbench from source
    assert check[0].endswith("bin/python")
    assert "-c" in check
    second = builder.build(SPEC)
    assert second.cached
    assert second.key == first.key
    assert second.versions == first.versions
    assert len(runner.calls) == 3  # nothing ran again


def test_failed_install_names_file_and_field_and_leaves_nothing(tmp_path: Path) -> None:
    stderr = "  × No solution found when resolving dependencies:\n  ╰─▶ Because dask==9999 ..."
    runner = FakeRunner(fail_on="dask==2026.8.0", stderr=stderr)
    with pytest.raises(ConfigError) as info:
        EnvBuilder(tmp_path, runner=runner, use_uv=False).build(SPEC)
    message = str(info.value)
    assert message.startswith("new.yaml: packages: cannot install ['dask==2026.8.0']:")
    assert "\n" not in message
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]  # no half-built venv


def test_failed_import_check(tmp_path: Path) -> None:
    runner = FakeRunner(fail_on="import dask", stderr="ImportError: cannot import name 'x'")
    with pytest.raises(ConfigError, match=r"new.yaml: packages: installed but do not import"):
        EnvBuilder(tmp_path, runner=runner, use_uv=False).build(SPEC)
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]


def test_cache_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DASKBENCH_ENV_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_env_cache() == tmp_path / "daskbench" / "envs"
    monkeypatch.setenv("DASKBENCH_ENV_DIR", str(tmp_path / "x"))
    assert default_env_cache() == tmp_path / "x"


def test_source_fingerprint_is_stable() -> None:
    assert source_fingerprint() == source_fingerprint()


def test_changed_source_reinstalls_only_daskbench(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = FakeRunner()
    first = EnvBuilder(tmp_path, runner=runner, use_uv=False).build(SPEC)
    monkeypatch.setattr(EnvBuilder, "source", property(lambda self: "edited"))
    runner.calls.clear()
    again = EnvBuilder(tmp_path, runner=runner, use_uv=False).build(SPEC)
    assert again.key == first.key
    assert again.cached
    assert again.refreshed
    reinstall, check = runner.calls
    assert "--no-deps" in reinstall
    assert "dask==2026.8.0" not in reinstall
    assert "-c" in check
    runner.calls.clear()
    third = EnvBuilder(tmp_path, runner=runner, use_uv=False).build(SPEC)
    assert third.cached
    assert not third.refreshed
    assert runner.calls == []
