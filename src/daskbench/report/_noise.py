"""``daskbench noise`` reports: text, Markdown and JSON of a :class:`NoiseReport`."""

from __future__ import annotations

import json
import math
from typing import Any

from daskbench.ab._noise import NoiseReport, NoiseRow
from daskbench.report._markdown import code, escape, table

__all__ = ["noise_json", "noise_markdown", "noise_text"]


def _pct(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x * 100:.1f}%"


def _rounds(r: int | None, limit: str = ">1000") -> str:
    return limit if r is None else str(r)


def _headline(report: NoiseReport) -> str:
    source = (
        f"A/A rounds of {report.labels[0]} and {report.labels[1]}, paired"
        if report.paired
        else f"runs of {report.labels[0]}"
    )
    return (
        f"daskbench noise: {source}; MDE at {report.rounds} paired rounds, alpha "
        f"{report.alpha:g} over a family of {report.family_size}, power 80%"
    )


def _summary(report: NoiseReport) -> list[str]:
    out = []
    for metric in report.metrics:
        s = report.mde_summary(metric)
        if s is not None:
            out.append(f"{metric}: median MDE {_pct(s[0])}, max {_pct(s[1])}")
    return out


def _cells(row: NoiseRow, report: NoiseReport) -> list[str]:
    n = row.noise
    if n is None:
        return [str(row.n), "-", "-", *("-" for _ in report.effects), row.note]
    return [
        str(row.n),
        _pct(n.cv),
        _pct(n.mde),
        *(_rounds(r) for r in n.needed),
        "",
    ]


def _headers(report: NoiseReport) -> list[str]:
    return [
        "test",
        "metric",
        "n",
        "noise (CV)",
        f"MDE @{report.rounds}",
        *(f"rounds for {e * 100:g}%" for e in report.effects),
        "note",
    ]


def noise_text(report: NoiseReport) -> str:
    headers = _headers(report)
    rows = [[r.test, r.metric, *_cells(r, report)] for r in report.rows]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    numeric = set(range(2, len(headers) - 1))

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [_headline(report), "", line(headers), *(line(r) for r in rows), ""]
    return "\n".join(out + _summary(report)) + "\n"


def noise_markdown(report: NoiseReport) -> str:
    rows = [[code(r.test), escape(r.metric), *_cells(r, report)] for r in report.rows]
    align = "ll" + "r" * (len(_headers(report)) - 3) + "l"
    summary = "".join(f"- {escape(s)}\n" for s in _summary(report))
    return (
        f"### {escape(_headline(report))}\n\n{table(_headers(report), rows, align=align)}\n\n"
        f"{summary}"
    )


def noise_json(report: NoiseReport) -> str:
    def finite(x: float) -> float | None:
        return x if math.isfinite(x) else None

    def row(r: NoiseRow) -> dict[str, Any]:
        n = r.noise
        return {
            "test": r.test,
            "metric": r.metric,
            "n": r.n,
            "cv": finite(n.cv) if n else None,
            "mde": finite(n.mde) if n else None,
            "rounds_needed": {f"{e:g}": k for e, k in zip(n.effects, n.needed, strict=True)}
            if n
            else None,
            "note": r.note,
        }

    summary = {}
    for metric in report.metrics:
        s = report.mde_summary(metric)
        if s is not None:
            summary[metric] = {"median_mde": finite(s[0]), "max_mde": finite(s[1])}
    doc = {
        "labels": list(report.labels),
        "paired": report.paired,
        "rounds": report.rounds,
        "alpha": report.alpha,
        "family_size": report.family_size,
        "effects": list(report.effects),
        "summary": summary,
        "rows": [row(r) for r in report.rows],
    }
    return json.dumps(doc, indent=2) + "\n"
