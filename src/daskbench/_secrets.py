"""Masking secrets: the one place that decides what is a secret and hides it.

Everything daskbench stores, prints or passes on (``runs.command``, the fingerprint's dask
config, ``report.json``, logs, error messages, the dashboard) goes through these functions:

* :func:`mask_url`: the password of ``scheme://user:password@host`` (a password may contain
  ``@``, ``/`` or ``:``), a bare token used as the user (``https://<token>@host``) and the
  values of secret-looking query parameters (``?password=...``, ``&token=...``);
* :func:`mask_text`: every URL in free text, plus literal secrets the caller knows of;
* :func:`mask_argv` / :func:`mask_command`: a command line, where a secret can be a URL in
  any argument, ``--opt=value`` or ``--opt value`` of a secret-looking option, or
  ``NAME=value`` of a secret-looking variable;
* :func:`mask_config`: a mapping (dask config, environment variables) whose keys, at any
  depth or dotted component, look secret.

A key or option *looks secret* when one of its words (split at ``.``, ``-``, ``_``) contains
``token``, ``passw``, ``secret`` or ``credential``, ends in ``key``, or is ``pwd``/``auth``
(so ``coiled.token``, ``DASK_COILED__TOKEN``, ``--api-key``, ``aws_secret_access_key``, but
not ``--keyword`` or ``--author``). Masking errs on the side of hiding::

    >>> mask_url("postgresql://bench:p@ss/w0rd@db:5432/hist?sslmode=require&password=x")
    'postgresql://bench:***@db:5432/hist?sslmode=require&password=***'
    >>> mask_command(["daskbench", "run", "--db=postgresql://u:pw@h/db", "--token", "abc"])
    "daskbench run '--db=postgresql://u:***@h/db' --token '***'"
    >>> mask_config({"coiled.token": "abc", "distributed": {"comm": {"tls": {"key": "k"}}}})
    {'coiled.token': '***', 'distributed': {'comm': {'tls': {'key': '***'}}}}
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote

__all__ = [
    "MASK",
    "is_secret_key",
    "mask_argv",
    "mask_command",
    "mask_config",
    "mask_diff",
    "mask_text",
    "mask_url",
    "url_secrets",
]

MASK = "***"

_WORD_SPLIT = re.compile(r"[._\-\s]+")
_CONTAINS = ("token", "passw", "secret", "credential")
_EXACT = ("pwd", "auth", "authorization")
# scheme://rest-up-to-whitespace; the scheme as RFC 3986 allows it (postgresql+psycopg, s3).
_URL = re.compile(r"(?<![\w+.-])([A-Za-z][A-Za-z0-9+.-]*://)([^\s\"'<>`]+)")
# A user name that is really a token (https://<token>@github.com/...).
_TOKEN_USER = re.compile(r"^[A-Za-z0-9_\-]{20,}$")
_ASSIGNMENT = re.compile(r"^(-{0,2})([A-Za-z_][\w.\-]*)=(.*)$", re.DOTALL)


def is_secret_key(key: object) -> bool:
    """Whether a config key, option name or variable name looks like it holds a secret.

    >>> [is_secret_key(k) for k in ("coiled.token", "--api-key", "--keyword", "author")]
    [True, True, False, False]
    """
    for word in _WORD_SPLIT.split(str(key).lower()):
        if not word:
            continue
        if any(part in word for part in _CONTAINS) or word.endswith("key") or word in _EXACT:
            return True
    return False


def _mask_query(query: str) -> str:
    parts = []
    for item in query.split("&"):
        name, sep, value = item.partition("=")
        parts.append(f"{name}={MASK}" if sep and value and is_secret_key(name) else item)
    return "&".join(parts)


def _split(url: str) -> tuple[str, str, str, str] | None:
    """``(scheme://, userinfo, hostpart, query)``; userinfo ends at the *last* ``@`` (a
    password may contain ``@``), the query at the last ``?`` after the host."""
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*://)(.*)$", url, re.DOTALL)
    if match is None:
        return None
    scheme, rest = match.groups()
    userinfo = ""
    if not rest.startswith("/") and "@" in rest:
        userinfo, _, rest = rest.rpartition("@")
    rest, qmark, query = rest.partition("?")
    return scheme, userinfo, rest, (qmark + query)


def mask_url(url: str) -> str:
    """``url`` without its password, token-like user or secret query values.

    >>> mask_url("https://ghp_0123456789abcdefghijklmn@github.com/org/repo.git")
    'https://***@github.com/org/repo.git'
    >>> mask_url("sqlite:////tmp/x@y.db"), mask_url("tcp://10.0.0.5:8786")
    ('sqlite:////tmp/x@y.db', 'tcp://10.0.0.5:8786')
    """
    parts = _split(url)
    if parts is None:
        return url
    scheme, userinfo, rest, query = parts
    if userinfo:
        user, colon, password = userinfo.partition(":")
        if colon and password:
            userinfo = f"{user}:{MASK}"
        elif _TOKEN_USER.match(userinfo):
            userinfo = MASK
        rest = f"{userinfo}@{rest}"
    if query:
        query = "?" + _mask_query(query[1:])
    return f"{scheme}{rest}{query}"


def url_secrets(url: str) -> list[str]:
    """The secret parts of ``url`` (password, token user, secret query values), as written
    and percent-decoded: what must not appear anywhere once the URL is masked.

    >>> url_secrets("postgresql://u:p%40ss@h/db?token=t1")
    ['p%40ss', 't1', 'p@ss']
    """
    parts = _split(url)
    if parts is None:
        return []
    _, userinfo, _, query = parts
    found: list[str] = []
    _, colon, password = userinfo.partition(":")
    if colon and password:
        found.append(password)
    elif userinfo and _TOKEN_USER.match(userinfo):
        found.append(userinfo)
    for name, value in parse_qsl(query[1:], keep_blank_values=False):
        if is_secret_key(name):
            found.append(value)
    decoded = [unquote(s) for s in found]
    return list(dict.fromkeys(s for s in [*found, *decoded] if s))


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every URL masked and every literal in ``secrets`` replaced by ``***``.

    >>> mask_text("cannot open 'postgresql://u:hunter2@db/x': refused (hunter2)", ["hunter2"])
    "cannot open 'postgresql://u:***@db/x': refused (***)"
    """
    known = sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, MASK)
    return _URL.sub(lambda m: mask_url(m.group(0)), text)


def mask_argv(argv: Sequence[str], secrets: Iterable[str] = ()) -> list[str]:
    """Each argument masked: URLs anywhere, values of secret-looking options or variables.

    >>> mask_argv(["run", "--password", "pw", "--api-key=k", "AWS_SECRET_ACCESS_KEY=s", "-k", "x"])
    ['run', '--password', '***', '--api-key=***', 'AWS_SECRET_ACCESS_KEY=***', '-k', 'x']
    """
    known = list(secrets)
    out: list[str] = []
    secret_next = False
    for arg in argv:
        if secret_next and not arg.startswith("--"):
            out.append(MASK)
            secret_next = False
            continue
        secret_next = False
        assignment = _ASSIGNMENT.match(arg)
        if assignment is not None and is_secret_key(assignment.group(2)):
            dashes, name, value = assignment.groups()
            out.append(f"{dashes}{name}={MASK if value else ''}")
            continue
        if arg.startswith("--") and is_secret_key(arg[2:]):
            secret_next = True
        out.append(_mask_arg(arg, known))
    return out


def _mask_arg(arg: str, secrets: list[str]) -> str:
    # A whole argument that is a URL (or --opt=URL) is one URL, even with a space in it.
    name, sep, value = arg.partition("=") if arg.startswith("-") else ("", "", arg)
    if _split(value) is not None:
        return f"{name}{sep}{mask_text(mask_url(value), secrets)}"
    return mask_text(arg, secrets)


def mask_command(argv: Sequence[str], secrets: Iterable[str] = ()) -> str:
    """:func:`mask_argv`, joined for a shell (what ``runs.command`` stores)."""
    return shlex.join(mask_argv(argv, secrets))


def mask_config(config: Mapping[str, Any], *, _secret: bool = False) -> dict[str, Any]:
    """A copy of ``config`` with the values under secret-looking keys replaced by ``***``.

    Keys may be dotted (``coiled.token``) or nested mappings, at any depth; string values
    under other keys still get their URLs masked. Empty values (None, "") stay as they are:
    they hide nothing and ``***`` would suggest a value.
    """
    out: dict[str, Any] = {}
    for key, value in config.items():
        secret = _secret or is_secret_key(key)
        out[key] = _mask_value(value, secret)
    return out


def mask_diff(diff: Mapping[str, tuple[Any, Any]]) -> dict[str, tuple[Any, Any]]:
    """A fingerprint diff (key -> (before, after)) fit to show: secrets masked on both sides
    (a changed token still shows as a change, ``*** -> ***``).

    >>> mask_diff({"dask_config.coiled.token": ("a", "b"), "packages.dask": ("1", "2")})
    {'dask_config.coiled.token': ('***', '***'), 'packages.dask': ('1', '2')}
    """
    return {
        key: (_mask_value(a, is_secret_key(key)), _mask_value(b, is_secret_key(key)))
        for key, (a, b) in diff.items()
    }


def _mask_value(value: Any, secret: bool) -> Any:
    if isinstance(value, Mapping):
        return mask_config(value, _secret=secret)
    if isinstance(value, list | tuple):
        return type(value)(_mask_value(v, secret) for v in value)
    if value is None or value == "":
        return value
    if secret:
        return MASK
    return mask_text(value) if isinstance(value, str) else value
