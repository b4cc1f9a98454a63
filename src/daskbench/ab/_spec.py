"""Environment spec files: what one side of an A/B experiment runs with.

A spec is a small YAML file; every field is optional except that the file must be a
mapping::

    name: candidate                      # label of its results (default: the file's stem)
    packages: ["dask==2026.8.0", "./my-distributed"]   # pip requirements; omit = this env
    config: {distributed.scheduler.worker-saturation: 1.1}   # dask config overrides
    cluster: {workers: 2, threads_per_worker: 1, memory_limit: 4GiB}
    env: {SOME_VAR: "1"}                 # environment variables
    run: {order: reverse, warmup: 2}     # options of its `daskbench run` (see below)

``run`` takes the options of ``daskbench run`` that shape how benchmarks execute
(``warmup``, ``min_time``, ``order``, ``seed``, ``health_timeout``, ``timeout``, ``reset``),
overriding what ``daskbench ab`` was given for this environment only: an A/A with
``run: {order: reverse}`` checks that no benchmark depends on the ones before it.

Validation happens here, before anything is built or run; every error is one line naming
the file and the field::

    >>> parse_spec({"name": "a", "packages": "dask"}, "a.yaml")
    Traceback (most recent call last):
    ...
    daskbench.errors.ConfigError: a.yaml: packages: expected a list of requirement strings, ...
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from daskbench.errors import ConfigError

__all__ = ["EnvSpec", "load_spec", "parse_spec"]

_FIELDS = ("name", "packages", "config", "cluster", "env", "run")
_CLUSTER_FIELDS = ("workers", "threads_per_worker", "memory_limit")
#: Run options a spec may set (validated, with the rest, by ``daskbench ab`` up front).
RUN_FIELDS = ("warmup", "min_time", "order", "seed", "health_timeout", "timeout", "reset")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_Scalar = str | int | float | bool


@dataclass(frozen=True)
class EnvSpec:
    """One validated environment. ``packages is None`` means "the current environment"."""

    name: str
    packages: tuple[str, ...] | None = None
    config: dict[str, Any] = field(default_factory=dict)  # flat, dotted keys
    cluster: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)  # run option dest -> value
    source: str = "<spec>"  # the file it came from, for error messages

    @property
    def uses_current_environment(self) -> bool:
        return self.packages is None

    def renamed(self, name: str) -> EnvSpec:
        """The same environment under another label (the A/A copy)."""
        return replace(self, name=name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "packages": list(self.packages) if self.packages is not None else None,
            "config": dict(self.config),
            "cluster": dict(self.cluster),
            "env": dict(self.env),
            "run": dict(self.run),
            "source": self.source,
        }

    def digest(self) -> str:
        """Short hash of everything that changes what runs (not the name)."""
        body = {k: v for k, v in self.to_dict().items() if k not in ("name", "source")}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]

    def dask_env(self) -> dict[str, str]:
        """The dask config overrides as ``DASK_*`` environment variables.

        Values are Python literals, which dask parses back with ``ast.literal_eval``, so a
        string stays a string (``'p2p'``) and a number a number. Env variables outrank
        YAML config files, and the nanny passes them on to worker processes.
        """
        out = {}
        for key, value in self.config.items():
            name = "DASK_" + "__".join(part.replace("-", "_") for part in key.split(".")).upper()
            out[name] = repr(value)
        return out


def _type_name(value: object) -> str:
    return type(value).__name__


def _fail(source: str, where: str, message: str) -> ConfigError:
    return ConfigError(f"{source}: {where}: {message}")


def _packages(value: Any, source: str, base: Path | None) -> tuple[str, ...] | None:
    from packaging.requirements import InvalidRequirement, Requirement

    if value is None:
        return None
    if not isinstance(value, list):
        raise _fail(
            source,
            "packages",
            f"expected a list of requirement strings, got {_type_name(value)} {value!r}",
        )
    out: list[str] = []
    for i, item in enumerate(value):
        where = f"packages[{i}]"
        if not isinstance(item, str) or not item.strip():
            raise _fail(source, where, f"expected a requirement string, got {item!r}")
        text = item.strip()
        if text.startswith(("-", "--")):
            raise _fail(source, where, f"pip options are not allowed, got {text!r}")
        if text.startswith((".", "/", "~")):
            path = Path(text).expanduser()
            if not path.is_absolute() and base is not None:
                path = base / path
            if not path.exists():
                raise _fail(source, where, f"local path {text!r} does not exist ({path})")
            out.append(str(path.resolve()))
            continue
        try:
            Requirement(text)
        except InvalidRequirement as exc:
            first = str(exc).splitlines()[0]
            raise _fail(source, where, f"invalid requirement {text!r}: {first}") from None
        out.append(text)
    return tuple(out)


def _flatten(prefix: str, value: Any, out: dict[str, Any], source: str) -> None:
    if isinstance(value, Mapping) and value:
        for key, sub in value.items():
            if not isinstance(key, str) or not key:
                raise _fail(source, f"config.{prefix}".rstrip("."), f"bad key {key!r}")
            _flatten(f"{prefix}.{key}" if prefix else key, sub, out, source)
        return
    where = f"config.{prefix}"
    if not _is_config_value(value):
        raise _fail(source, where, f"unsupported value {value!r} ({_type_name(value)})")
    out[prefix] = value


def _is_config_value(value: Any) -> bool:
    if value is None or isinstance(value, _Scalar):
        return True
    if isinstance(value, list):
        return all(_is_config_value(v) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _is_config_value(v) for k, v in value.items())
    return False


def _config(value: Any, source: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(source, "config", f"expected a mapping, got {_type_name(value)} {value!r}")
    out: dict[str, Any] = {}
    _flatten("", value, out, source)
    for key in out:
        if any(not part for part in key.split(".")):
            raise _fail(source, f"config.{key}", "empty part in dotted key")
    return dict(sorted(out.items()))


def _positive_int(value: Any, source: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(source, where, f"expected an integer >= 1, got {value!r}")
    return value


def _cluster(value: Any, source: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(source, "cluster", f"expected a mapping, got {_type_name(value)} {value!r}")
    out: dict[str, Any] = {}
    for key, item in value.items():
        norm = str(key).replace("-", "_")
        if norm not in _CLUSTER_FIELDS:
            raise _fail(
                source,
                f"cluster.{key}",
                f"unknown field (expected one of {', '.join(_CLUSTER_FIELDS)})",
            )
        where = f"cluster.{key}"
        if norm == "memory_limit":
            if isinstance(item, bool) or not isinstance(item, str | int):
                raise _fail(source, where, f"expected e.g. '4GiB', got {item!r}")
            from dask.utils import parse_bytes

            try:
                if int(parse_bytes(item)) <= 0:
                    raise ValueError
            except (ValueError, TypeError):
                raise _fail(source, where, f"cannot parse {item!r} (e.g. 4GiB, 2GB)") from None
            out[norm] = str(item)
        else:
            out[norm] = _positive_int(item, source, where)
    return out


def _env(value: Any, source: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(source, "env", f"expected a mapping, got {_type_name(value)} {value!r}")
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            raise _fail(source, f"env.{key}", "not a valid environment variable name")
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise _fail(source, f"env.{key}", f"expected a string or number, got {item!r}")
        out[key] = str(item)
    return out


def _run(value: Any, source: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(source, "run", f"expected a mapping, got {_type_name(value)} {value!r}")
    out: dict[str, Any] = {}
    for key, item in value.items():
        norm = str(key).replace("-", "_")
        if norm not in RUN_FIELDS:
            raise _fail(
                source, f"run.{key}", f"unknown field (expected one of {', '.join(RUN_FIELDS)})"
            )
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise _fail(source, f"run.{key}", f"expected a string or number, got {item!r}")
        out[norm] = item
    return out


def parse_spec(
    data: Any, source: str, *, base: Path | None = None, default_name: str = ""
) -> EnvSpec:
    """Validate the parsed YAML ``data`` of spec file ``source``.

    ``base`` is the directory relative local package paths are resolved against.
    """
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a mapping of fields, got {_type_name(data)}")
    unknown = [str(k) for k in data if k not in _FIELDS]
    if unknown:
        raise _fail(source, unknown[0], f"unknown field (expected one of {', '.join(_FIELDS)})")
    name = data.get("name", default_name or Path(source).stem)
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(source, "name", f"expected a label of letters, digits and _.+- , got {name!r}")
    return EnvSpec(
        name=name,
        packages=_packages(data.get("packages"), source, base),
        config=_config(data.get("config"), source),
        cluster=_cluster(data.get("cluster"), source),
        env=_env(data.get("env"), source),
        run=_run(data.get("run"), source),
        source=source,
    )


def load_spec(path: str | Path) -> EnvSpec:
    """Read and validate a spec file; ConfigError (one line, naming the file) otherwise."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read spec file ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    return parse_spec(data, str(path), base=p.parent, default_name=p.stem)
