"""Small GitHub-flavoured markdown helpers for reports (step summaries, PR comments).

>>> print(table(["test", "change"], [["test_sum", "+15%"]], align="lr"))
| test | change |
| :--- | ---: |
| test_sum | +15% |
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["code", "details", "escape", "table"]

_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_[]<>|#"})


def escape(text: str) -> str:
    """``text`` shown literally inside a table cell or paragraph (one line)."""
    return " ".join(str(text).split()).translate(_SPECIAL)


def code(text: str) -> str:
    """Inline code; a backtick inside gets a longer fence. ``|`` is escaped for tables."""
    text = " ".join(str(text).split()).replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, align: str = "") -> str:
    """A pipe table; cells are inserted as given (escape them first). ``align``: l/r/c each."""
    align = align.ljust(len(headers), "l")
    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join(marks[a] for a in align) + " |",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def details(summary: str, body: str) -> str:
    """A collapsed section (``<details>``), for long lists under a short headline."""
    return f"<details>\n<summary>{summary}</summary>\n\n{body}\n\n</details>"
