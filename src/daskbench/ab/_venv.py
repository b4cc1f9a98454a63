"""Isolated virtual environments for A/B specs, built once and cached by a hash.

A spec with ``packages`` gets its own venv holding daskbench (from the source tree this
daskbench runs from) and those packages; a spec without runs in the current interpreter.
The cache key covers the packages, the Python interpreter and daskbench's own dependencies
(``pyproject.toml``), so a repeated experiment reuses the venv. The rest of the daskbench
source changes all the time in a checkout; the venv records which source it holds, and
when that differs only daskbench is reinstalled (``--no-deps``, a second or two)::

    ~/.cache/daskbench/envs/<key>/          # complete venvs only
    ~/.cache/daskbench/envs/.build-<key>-*  # in progress (renamed when done)

An interrupted build never looks complete: it happens in a temporary directory that is
renamed to its final name (atomically) only after the install and an import check passed.
Benchmarks always start as ``<venv>/bin/python -m daskbench.cli``, never through console
scripts, whose shebangs would still name the temporary directory.

uv is used when it is on PATH (much faster, shares a package cache); otherwise
``python -m venv`` and pip.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import daskbench
from daskbench.ab._spec import EnvSpec
from daskbench.errors import ConfigError

__all__ = ["BuiltEnv", "EnvBuilder", "default_env_cache", "source_fingerprint"]

_MARKER = "daskbench-env.json"
# Run in the new interpreter before the venv counts as built: packages that install but do
# not import together (e.g. an old dask with a new pandas) fail here, not mid-experiment.
_IMPORT_CHECK = (
    "import dask, dask.dataframe, distributed, daskbench.cli, daskbench.pytest_plugin; "
    "print(dask.__version__, distributed.__version__)"
)
_SOURCE_FILES = ("pyproject.toml", "README.md", "LICENSE", "setup.cfg", "MANIFEST.in")


def default_env_cache() -> Path:
    """$DASKBENCH_ENV_DIR, else $XDG_CACHE_HOME/daskbench/envs (~/.cache by default)."""
    env = os.environ.get("DASKBENCH_ENV_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "daskbench" / "envs"


@dataclass(frozen=True)
class BuiltEnv:
    """An interpreter ready to run ``python -m daskbench.cli run``."""

    python: str
    key: str | None  # None: the current interpreter
    cached: bool
    seconds: float
    versions: str = ""  # "dask distributed", from the import check
    refreshed: bool = False  # cached, but daskbench was reinstalled from changed source

    @property
    def isolated(self) -> bool:
        return self.key is not None


def _source_root() -> Path | None:
    """The project root when daskbench runs from a source checkout (editable or not)."""
    override = os.environ.get("DASKBENCH_SOURCE")
    if override:
        return Path(override).resolve()
    root = Path(daskbench.__file__).resolve().parent.parent.parent
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "daskbench"' in pyproject.read_text():
        return root
    return None


def _source_files(root: Path) -> Iterator[Path]:
    for name in _SOURCE_FILES:
        if (root / name).is_file():
            yield root / name
    for path in sorted((root / "src" / "daskbench").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            yield path


def source_fingerprint(*, dependencies_only: bool = False) -> str:
    """Hash of the daskbench source that venvs get (or its version when not a checkout).

    ``dependencies_only``: of ``pyproject.toml`` alone, which decides what else a venv needs.
    """
    root = _source_root()
    if root is None:
        return f"daskbench=={daskbench.__version__}"
    digest = hashlib.sha256()
    for path in _source_files(root):
        if dependencies_only and path.name != "pyproject.toml":
            continue
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _copy_source(root: Path, dest: Path) -> Path:
    """A clean copy of the project to install from, so building never writes into it."""
    for path in _source_files(root):
        target = dest / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return dest


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text)
    tmp.replace(path)


def _last_error_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for line in reversed(lines):
        low = line.lower()
        if low.startswith(("error", "×", "╰─▶", "because", "hint")) or "error" in low:
            return line.lstrip("×╰─▶ ").strip()
    return lines[-1] if lines else "no output"


Runner = Callable[[Sequence[str], Path], "subprocess.CompletedProcess[str]"]


def _run(cmd: Sequence[str], log: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(cmd), capture_output=True, text=True, check=False)
    with log.open("a") as fh:
        fh.write(f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}\n")
    return proc


class EnvBuilder:
    """Builds (or finds in the cache) the interpreter of each spec.

    >>> builder = EnvBuilder(Path("/tmp/envs"))
    >>> builder.build(EnvSpec("base")).python == sys.executable   # no packages
    True
    """

    def __init__(
        self,
        cache_dir: Path | None = None,
        *,
        use_uv: bool | None = None,
        runner: Runner = _run,
    ) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_env_cache()
        self.uv = shutil.which("uv") if use_uv is not False else None
        if use_uv and self.uv is None:
            raise ConfigError("uv was requested but is not on PATH")
        self._runner = runner
        self._deps: str | None = None
        self._source: str | None = None

    @property
    def source(self) -> str:
        """Fingerprint of the daskbench source, computed once per builder."""
        if self._source is None:
            self._source = source_fingerprint()
        return self._source

    def key(self, spec: EnvSpec) -> str | None:
        """The cache key of ``spec``'s venv; None when it runs in the current interpreter."""
        if spec.packages is None:
            return None
        if self._deps is None:
            self._deps = source_fingerprint(dependencies_only=True)
        body = {
            "packages": list(spec.packages),
            "python": [sys.implementation.name, platform.python_version(), sys.executable],
            "daskbench-dependencies": self._deps,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]

    def path(self, spec: EnvSpec) -> Path | None:
        key = self.key(spec)
        return self.cache_dir / key if key else None

    def build(self, spec: EnvSpec, *, status: Callable[[str], None] | None = None) -> BuiltEnv:
        """The interpreter for ``spec``, building its venv unless cached.

        ConfigError naming the spec file and ``packages`` when the install or the import
        check fails; the half-built venv is removed.
        """
        start = time.perf_counter()
        key = self.key(spec)
        if key is None:
            return BuiltEnv(sys.executable, None, cached=True, seconds=0.0)
        final = self.cache_dir / key
        marker = final / _MARKER
        log = self.cache_dir / f"build-{key}.log"
        say = status or (lambda _msg: None)
        if marker.is_file():
            info = json.loads(marker.read_text())
            refreshed = info.get("source") != self.source
            if refreshed:
                info["versions"] = self._refresh(spec, final, log, say)
                info["source"] = self.source
                _write_atomic(marker, json.dumps(info))
            return BuiltEnv(
                str(final / "bin" / "python"),
                key,
                cached=True,
                seconds=time.perf_counter() - start,
                versions=str(info.get("versions", "")),
                refreshed=refreshed,
            )
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".build-{key}-", dir=self.cache_dir))
        log.write_text("")
        try:
            versions = self._install(spec, tmp, log, say)
            info = {
                "spec": spec.to_dict(),
                "key": key,
                "versions": versions,
                "source": self.source,
                "built": time.time(),
            }
            (tmp / _MARKER).write_text(json.dumps(info))
            try:
                tmp.rename(final)
            except OSError:
                # Someone else finished the same venv first: theirs is just as good.
                if not marker.is_file():
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return BuiltEnv(
            str(final / "bin" / "python"),
            key,
            cached=False,
            seconds=time.perf_counter() - start,
            versions=versions,
        )

    def _pip(self, python: Path, *args: str) -> list[str]:
        if self.uv:
            return [self.uv, "pip", "install", "--quiet", "--python", str(python), *args]
        return [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *args,
        ]

    def _check(self, spec: EnvSpec, python: Path, log: Path, say: Callable[[str], None]) -> str:
        say("checking imports")
        proc = self._runner([str(python), "-c", _IMPORT_CHECK], log)
        if proc.returncode != 0:
            raise ConfigError(
                f"{spec.source}: packages: installed but do not import: "
                f"{_last_error_line(proc.stderr or proc.stdout)} (log: {log})"
            )
        return proc.stdout.strip()

    def _refresh(self, spec: EnvSpec, venv: Path, log: Path, say: Callable[[str], None]) -> str:
        """Reinstall only daskbench (its source changed, its dependencies did not)."""
        root = _source_root()
        if root is None:
            return self._check(spec, venv / "bin" / "python", log, say)
        say("reinstalling daskbench (source changed)")
        python = venv / "bin" / "python"
        with tempfile.TemporaryDirectory(prefix="daskbench-src-") as src_tmp:
            me = str(_copy_source(root, Path(src_tmp) / "daskbench"))
            extra = ["--reinstall-package", "daskbench"] if self.uv else ["--force-reinstall"]
            proc = self._runner(self._pip(python, "--no-deps", *extra, me), log)
        if proc.returncode != 0:
            raise ConfigError(
                f"{spec.source}: packages: cannot reinstall daskbench into {venv}: "
                f"{_last_error_line(proc.stderr or proc.stdout)} (log: {log})"
            )
        return self._check(spec, python, log, say)

    def _install(self, spec: EnvSpec, venv: Path, log: Path, say: Callable[[str], None]) -> str:
        python = venv / "bin" / "python"
        say("creating venv")
        if self.uv:
            create = [self.uv, "venv", "--quiet", "--python", sys.executable, str(venv)]
        else:
            create = [sys.executable, "-m", "venv", str(venv)]
        # uv refuses to create into an existing directory only when it is not empty; the
        # temporary directory is empty.
        proc = self._runner(create, log)
        if proc.returncode != 0:
            raise ConfigError(
                f"{spec.source}: packages: cannot create a virtual environment: "
                f"{_last_error_line(proc.stderr or proc.stdout)} (log: {log})"
            )
        root = _source_root()
        with tempfile.TemporaryDirectory(prefix="daskbench-src-") as src_tmp:
            if root is not None and root.is_dir():
                me = str(_copy_source(root, Path(src_tmp) / "daskbench"))
            else:
                me = f"daskbench=={daskbench.__version__}"
            packages = [me, *(spec.packages or ())]
            say(f"installing {len(packages) - 1} package(s) + daskbench")
            proc = self._runner(self._pip(python, *packages), log)
        if proc.returncode != 0:
            raise ConfigError(
                f"{spec.source}: packages: cannot install {list(spec.packages or ())}: "
                f"{_last_error_line(proc.stderr or proc.stdout)} (log: {log})"
            )
        return self._check(spec, python, log, say)
