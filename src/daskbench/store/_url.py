"""Turning the user's store URL into a backend choice and a SQLAlchemy URL.

Accepted forms::

    memory://                                   fresh in-memory store (tests)
    sqlite:///history.db                        relative to the current directory
    sqlite:////abs/path/history.db              absolute path
    history.db  (or .sqlite / .sqlite3)         bare path, same as sqlite:///history.db
    postgresql://user:pw@host:5432/db           rewritten to the psycopg 3 driver
    postgresql+psycopg://user:pw@host/db?options=-csearch_path%3Dbench

Everything else is a :class:`~daskbench.errors.ConfigError` naming the URL (secrets masked by
:func:`daskbench._secrets.mask_url`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from daskbench._secrets import mask_url
from daskbench.errors import ConfigError

__all__ = ["ParsedURL", "parse_store_url"]

_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_POSTGRES_DRIVERS = {"postgresql", "postgresql+psycopg", "postgres"}
_SQLITE_DRIVERS = {"sqlite", "sqlite+pysqlite"}


@dataclass(frozen=True)
class ParsedURL:
    """``kind`` picks the backend; ``url`` (None for memory) is what SQLAlchemy connects to;
    ``canonical`` is a string that :func:`parse_store_url` maps to the same database again."""

    kind: Literal["memory", "sqlite", "postgresql"]
    url: URL | None
    canonical: str

    @property
    def sqlite_path(self) -> Path:
        assert self.url is not None
        assert self.url.database
        return Path(self.url.database)

    @property
    def display(self) -> str:
        """The URL for messages: never shows the password or secret query parameters."""
        return mask_url(self.canonical)


def parse_store_url(url: str) -> ParsedURL:
    """Validate ``url`` and say which backend serves it.

    >>> parse_store_url("postgresql://u:pw@db/bench").url.drivername
    'postgresql+psycopg'
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"store URL must be a non-empty string, got {url!r}")
    url = url.strip()
    if url in ("memory://", "memory:"):
        return ParsedURL("memory", None, "memory://")
    if "://" not in url:
        if url.lower().endswith(_SQLITE_SUFFIXES):
            return _sqlite(URL.create("sqlite", database=url), url)
        raise ConfigError(
            f"unknown store URL {mask_url(url)!r}: expected memory://, sqlite:///path.db, "
            "postgresql://... or a path ending in .db"
        )
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(f"malformed store URL {mask_url(url)!r}: {exc}") from None
    driver = parsed.drivername
    if driver in _SQLITE_DRIVERS:
        return _sqlite(parsed, url)
    if driver in _POSTGRES_DRIVERS:
        if not parsed.database:
            raise ConfigError(f"store URL {mask_url(url)!r} names no database")
        parsed = parsed.set(drivername="postgresql+psycopg")
        return ParsedURL("postgresql", parsed, parsed.render_as_string(hide_password=False))
    if driver.startswith("postgresql+"):
        raise ConfigError(
            f"store URL {mask_url(url)!r}: only the psycopg 3 driver is supported, "
            "use postgresql:// or postgresql+psycopg://"
        )
    raise ConfigError(
        f"unknown store URL scheme {driver!r} in {mask_url(url)!r}: expected memory://, "
        "sqlite:///path.db or postgresql://..."
    )


def _sqlite(parsed: URL, original: str) -> ParsedURL:
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise ConfigError(
            f"store URL {mask_url(original)!r} needs a SQLite file path, e.g. sqlite:///history.db "
            "(use memory:// for a throwaway store)"
        )
    # Absolute, so the store's URL means the same file in a subprocess with another cwd.
    path = Path(database).expanduser().absolute()
    resolved = parsed.set(drivername="sqlite", database=str(path))
    return ParsedURL("sqlite", resolved, f"sqlite:///{path}")
