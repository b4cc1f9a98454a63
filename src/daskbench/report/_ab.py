"""Reports of an A/B comparison: Markdown (a PR comment), JSON, self-contained HTML, terminal.

Rendering only: every number and verdict comes from the domain objects of
:mod:`daskbench.ab` (:class:`~daskbench.ab.ABComparison` and its rows). The
Markdown opens with one summary line per candidate, then the significant rows; the
unchanged ones are folded away. Every format then shows, for each regressed or improved
wall time, the breakdown components that explain it (``Row.attribution``: e.g.
``prefix.slow_step +412.0 ms``, with its own ratio, interval, q-value and verdict). The HTML
has no scripts or CDN: inline SVG forest plots (ratio and interval per benchmark, one plot
per metric) and strip plots of the samples.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from daskbench.ab._attribution import Attribution
from daskbench.ab._compare import NOT_COMPARED, VERDICT_ORDER, ABComparison, Row, RowVerdict
from daskbench.metrics import format_value
from daskbench.stats import Verdict

__all__ = [
    "ReportContext",
    "render_html",
    "render_json",
    "render_markdown",
    "terminal_tables",
    "write_reports",
]

_COLORS: dict[RowVerdict, str] = {
    Verdict.REGRESSED: "#c62828",
    Verdict.IMPROVED: "#2e7d32",
    Verdict.INCONCLUSIVE: "#ef8f00",
    Verdict.UNCHANGED: "#607d8b",
    NOT_COMPARED: "#9e9e9e",
}
_EMOJI: dict[RowVerdict, str] = {
    Verdict.REGRESSED: "🔴",
    Verdict.IMPROVED: "🟢",
    Verdict.INCONCLUSIVE: "🟡",
    Verdict.UNCHANGED: "⚪",
}
_STYLES: dict[RowVerdict, str] = {
    Verdict.REGRESSED: "red",
    Verdict.IMPROVED: "green",
    Verdict.INCONCLUSIVE: "yellow",
}
_SIGNIFICANT = (Verdict.REGRESSED, Verdict.IMPROVED)


@dataclass(frozen=True)
class ReportContext:
    """What the report says about how the data came about (besides the numbers)."""

    title: str = "daskbench A/B"
    experiment: str | None = None
    db: str = ""
    scale: str = ""
    environments: dict[str, dict[str, Any]] = field(default_factory=dict)
    null_label: str | None = None
    confirmed: tuple[str, ...] = ()
    confirm_rounds: int = 0
    command: str = ""


def _ratio(row: Row) -> str:
    c = row.comparison
    if c is None:
        return "-"
    hi = "∞" if math.isinf(c.ci_high) else f"{c.ci_high:.3f}"
    return f"{c.ratio:.3f} [{c.ci_low:.3f}, {hi}]"


def _pct(value: float | None) -> str:
    if value is None or math.isinf(value):
        return "∞" if value is not None else "-"
    return f"±{value:.1%}"


def _mde(row: Row) -> str:
    """The MDE, marked ``?`` when it exceeds the threshold (too noisy to support it)."""
    c = row.comparison
    return _pct(c.mde) + (" ?" if c.noisy else "") if c else "-"


def _noise(row: Row) -> str:
    c = row.comparison
    return f"{c.noise_cv:.1%}" if c is not None and c.noise_cv is not None else "-"


def _suffix(row: Row) -> str:
    """After the verdict: the rounds a sequential comparison used, or "(confirmed)"."""
    c = row.comparison
    if c is not None and c.stop and row.rounds_used is not None:
        why = {"futile": ", futile", "running": ", running"}.get(c.stop, "")
        return f" ({row.rounds_used} rounds{why})"
    return " (confirmed)" if row.confirmed else ""


def _q(row: Row) -> str:
    c = row.comparison
    if c is None or c.qvalue is None:
        return "-"
    return f"{c.qvalue:.2g}"


def _sorted(rows: Sequence[Row]) -> list[Row]:
    def key(r: Row) -> tuple[int, float, str, str]:
        q = r.comparison.qvalue if r.comparison and r.comparison.qvalue is not None else 1.0
        return (VERDICT_ORDER.index(r.verdict), q, r.test, r.metric)

    return sorted(rows, key=key)


def _attributed(rows: Sequence[Row]) -> list[tuple[Row, Attribution]]:
    """(row, component) of every attributed verdict, in report order."""
    return [(r, part) for r in _sorted(rows) for part in r.attribution]


def _part_ratio(part: Attribution) -> str:
    c = part.comparison
    if c is None:
        return "-"
    hi = "∞" if math.isinf(c.ci_high) else f"{c.ci_high:.3f}"
    return f"{c.ratio:.3f} [{c.ci_low:.3f}, {hi}]"


def _part_q(part: Attribution) -> str:
    c = part.comparison
    return f"{c.qvalue:.2g}" if c is not None and c.qvalue is not None else "-"


def _delta(part: Attribution) -> str:
    """B - A in seconds, signed: ``+412.0 ms``."""
    return ("+" if part.delta > 0 else "") + format_value(part.delta, "s")


def _part_verdict(part: Attribution) -> str:
    return part.verdict if part.comparison is not None else f"{part.verdict}: {part.note}"


_ATTRIBUTION_TITLE = "Where the time went"
_ATTRIBUTION_NOTE = (
    "breakdown components explaining each regressed/improved wall_time, largest change first; "
    "the same statistics, one FDR family per verdict"
)
_ATTRIBUTION_COLUMNS = ("benchmark", "component", "B - A", "A", "B", "ratio [CI]", "q", "verdict")


def _attribution_cells(row: Row, part: Attribution) -> list[str]:
    return [
        row.test,
        part.metric,
        _delta(part),
        format_value(part.median_a, "s"),
        format_value(part.median_b, "s"),
        _part_ratio(part),
        _part_q(part),
        _part_verdict(part),
    ]


def summary_line(cmp: ABComparison, candidate: str, ctx: ReportContext) -> str:
    counts = cmp.counts(candidate)
    parts = [f"{n} {v}" for v, n in counts.items() if n]
    failed = sum(r.failed_b for r in cmp.rows_of(candidate) if r.metric == cmp.metrics[0])
    failed_a = sum(r.failed_a for r in cmp.rows_of(candidate) if r.metric == cmp.metrics[0])
    tag = " (A/A control)" if candidate == ctx.null_label else ""
    text = f"**{candidate}** vs **{cmp.baseline}**{tag}: " + (", ".join(parts) or "no data")
    if failed or failed_a:
        text += f"; failed results: {failed_a} in {cmp.baseline}, {failed} in {candidate}"
    return text


def _method(cmp: ABComparison) -> str:
    pairing = "paired by round" if cmp.paired else "unpaired"
    return (
        f"{cmp.rounds} round{'s' if cmp.rounds != 1 else ''}, {pairing}; "
        f"{cmp.method}, threshold {cmp.threshold:.0%}"
    )


def _describe_env(env: dict[str, Any]) -> str:
    parts = [f"dask / distributed {env.get('versions') or '?'}"]
    packages = env.get("packages")
    parts.append(f"packages {packages}" if packages else "current environment")
    for key in ("config", "cluster", "env"):
        if env.get(key):
            parts.append(f"{key} {env[key]}")
    return "; ".join(parts)


def render_markdown(cmp: ABComparison, ctx: ReportContext) -> str:
    lines = [f"### {ctx.title}", ""]
    for cand in cmp.candidates:
        lines.append("- " + summary_line(cmp, cand, ctx))
    lines += [
        "",
        f"<sub>{_method(cmp)}. MDE: smallest change detectable with 80% power; ? marks an "
        "MDE above the threshold (too noisy to support it). noise: robust CV of one run.</sub>",
        "",
    ]
    if ctx.null_label:
        n_false = sum(cmp.counts(ctx.null_label)[v] for v in _SIGNIFICANT)
        lines += [
            f"A/A control `{ctx.null_label}` (a second copy of `{cmp.baseline}`): "
            f"{n_false} false alarm(s) at this noise level.",
            "",
        ]
    if ctx.environments:
        lines += ["<details><summary>environments</summary>", ""]
        for label, env in ctx.environments.items():
            lines.append(f"- `{label}` ({env.get('source', '')}): {_describe_env(env)}")
        lines += ["", "</details>", ""]
    if ctx.confirmed:
        lines += [
            f"Confirmed with {ctx.confirm_rounds} extra interleaved round(s): "
            + ", ".join(f"`{t}`" for t in ctx.confirmed),
            "",
        ]
    header = (
        "| benchmark | metric | A median | B median | ratio B/A [CI] | q | verdict | noise | MDE |"
    )
    rule = "|---|---|---:|---:|---|---:|---|---:|---:|"
    for cand in cmp.candidates:
        rows = _sorted(cmp.rows_of(cand))
        main = [r for r in rows if r.verdict is not Verdict.UNCHANGED]
        rest = [r for r in rows if r.verdict is Verdict.UNCHANGED]
        lines += [f"#### {cand} vs {cmp.baseline}", ""]
        for chunk, folded in ((main, False), (rest, True)):
            if not chunk:
                continue
            if folded:
                lines += [f"<details><summary>{len(chunk)} unchanged</summary>", ""]
            lines += [header, rule]
            for r in chunk:
                c = r.comparison
                verdict = f"{_EMOJI.get(r.verdict, '')} {r.verdict}".strip() + _suffix(r)
                med_a = format_value(c.median_a if c else None, r.unit)
                med_b = format_value(c.median_b if c else None, r.unit)
                lines.append(
                    f"| `{r.test}` | {r.metric} | {med_a} | {med_b} | {_ratio(r)} "
                    f"| {_q(r)} | {verdict} | {_noise(r)} | {_mde(r)} |"
                )
            lines.append("")
            if folded:
                lines += ["</details>", ""]
        too_few = [
            r.comparison.note
            for r in rows
            if r.comparison is not None and r.comparison.note.startswith("too few")
        ]
        if too_few:
            lines += [f"- {len(too_few)} inconclusive for {too_few[0]}", ""]
        notes = [r for r in rows if r.verdict is NOT_COMPARED]
        for r in notes:
            lines.append(f"- `{r.test}` {r.metric}: {r.note}")
        if notes:
            lines.append("")
        attributed = _attributed(rows)
        if attributed:
            lines += [
                f"**{_ATTRIBUTION_TITLE}** <sub>({_ATTRIBUTION_NOTE})</sub>",
                "",
                "| " + " | ".join(_ATTRIBUTION_COLUMNS) + " |",
                "|---|---|---:|---:|---:|---|---:|---|",
            ]
            for r, part in attributed:
                cells = _attribution_cells(r, part)
                cells[0], cells[1] = f"`{cells[0]}`", f"`{cells[1]}`"
                emoji = _EMOJI.get(part.verdict, "")
                cells[-1] = f"{emoji} {cells[-1]}".strip()
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def render_json(cmp: ABComparison, ctx: ReportContext) -> str:
    data = {
        "experiment": ctx.experiment,
        "baseline": cmp.baseline,
        "candidates": list(cmp.candidates),
        "null_control": ctx.null_label,
        "metrics": list(cmp.metrics),
        "paired": cmp.paired,
        "rounds": cmp.rounds,
        "alpha": cmp.alpha,
        "threshold": cmp.threshold,
        "scale": ctx.scale,
        "db": ctx.db,
        "command": ctx.command,
        "environments": ctx.environments,
        "confirmed": list(ctx.confirmed),
        "confirm_rounds": ctx.confirm_rounds,
        "summary": {c: cmp.counts(c) for c in cmp.candidates},
        "rows": [r.to_dict() for r in _sorted(cmp.rows)],
    }
    return json.dumps(_clean(data), indent=2, allow_nan=False) + "\n"


# -- HTML ----------------------------------------------------------------------------------
def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _el(tag: str, body: str = "", **attrs: object) -> str:
    """An XML element; ``stroke_width`` becomes ``stroke-width``; floats get 1 decimal."""
    parts = []
    for key, value in attrs.items():
        text = f"{value:.1f}" if isinstance(value, float) else str(value)
        parts.append(f'{key.rstrip("_").replace("_", "-")}="{_esc(text)}"')
    opening = f"<{tag} {' '.join(parts)}" if parts else f"<{tag}"
    return f"{opening}>{body}</{tag}>"


def _svg(width: int, height: int, body: Sequence[str], font_size: int = 12) -> str:
    return _el(
        "svg",
        "".join(body),
        xmlns="http://www.w3.org/2000/svg",
        width=width,
        height=height,
        font_family="sans-serif",
        font_size=font_size,
    )


def _forest(rows: Sequence[Row], threshold: float) -> str:
    """One SVG: per row a point at the ratio and a line over its interval, log x axis."""
    shown = [(r, r.comparison) for r in rows if r.comparison is not None]
    if not shown:
        return "<p>no comparisons</p>"
    label_w, plot_w, row_h, top = 300, 420, 22, 28
    height = top + row_h * len(shown) + 10
    finite = [v for _, c in shown for v in (c.ci_low, c.ci_high, c.ratio) if 0 < v < math.inf]
    lo = math.log(min([*finite, 1 / (1 + 2 * threshold)])) - 0.02
    hi = math.log(max([*finite, 1 + 2 * threshold])) + 0.02

    def x(value: float) -> float:
        v = math.log(value) if 0 < value < math.inf else (hi if value > 0 else lo)
        return label_w + (min(max(v, lo), hi) - lo) / (hi - lo) * plot_w

    band_l, band_r = x(1 / (1 + threshold)), x(1 + threshold)
    out = [
        _el(
            "rect", x=band_l, y=top - 6, width=band_r - band_l, height=height - top, fill="#eceff1"
        ),
        _el("line", x1=x(1), x2=x(1), y1=top - 6, y2=height - 4, stroke="#455a64"),
    ]
    for tick in (0.5, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0):
        if lo <= math.log(tick) <= hi:
            out.append(_el("text", f"{tick:g}", x=x(tick), y=14, text_anchor="middle", fill="#555"))
    for i, (r, c) in enumerate(shown):
        y = top + i * row_h + row_h / 2
        color = _COLORS.get(r.verdict, "#000")
        tip = _esc(f"{r.test} {r.metric}: {_ratio(r)} q={_q(r)} {r.verdict}")
        out.append(
            _el(
                "g",
                _el("title", tip)
                + _el("text", _esc(r.test), x=label_w - 6, y=y + 4, text_anchor="end")
                + _el(
                    "line",
                    x1=x(c.ci_low),
                    x2=x(c.ci_high),
                    y1=y,
                    y2=y,
                    stroke=color,
                    stroke_width=2,
                )
                + _el("circle", cx=x(c.ratio), cy=y, r=4, fill=color)
                + _el("text", _esc(r.verdict), x=label_w + plot_w + 6, y=y + 4, fill=color),
            )
        )
    return _svg(label_w + plot_w + 90, height, out)


def _strip(row: Row, labels: tuple[str, str]) -> str:
    """Samples of A and B of one benchmark x metric as dots on a shared linear axis."""
    values = [*row.a, *row.b]
    if not values:
        return ""
    w, h, pad = 240, 54, 8
    lo, hi = min(values), max(values)
    span = (hi - lo) or abs(hi) or 1.0
    lo, hi = lo - 0.05 * span, hi + 0.05 * span

    def x(v: float) -> float:
        return pad + (v - lo) / (hi - lo) * (w - 2 * pad)

    out = []
    sides = ((labels[0], row.a, "#1565c0"), (labels[1], row.b, "#d84315"))
    for j, (name, sample, color) in enumerate(sides):
        y = 16 + j * 22
        out.append(_el("text", _esc(name), x=w + 4, y=y + 4, fill=color))
        for v in sample:
            tip = _el("title", _esc(format_value(v, row.unit)))
            out.append(_el("circle", tip, cx=x(v), cy=y, r=3.5, fill=color, fill_opacity=0.6))
    return _svg(w + 100, h, out, font_size=11)


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;font-size:13px}
td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left}
.regressed{color:#c62828;font-weight:bold}.improved{color:#2e7d32;font-weight:bold}
.inconclusive{color:#ef8f00}.unchanged{color:#607d8b}code{font-size:12px}
"""
_ENV_COLUMNS = ("label", "source", "packages", "config", "cluster", "versions")
_ROW_COLUMNS = (
    "benchmark",
    "metric",
    "A median",
    "B median",
    "ratio [CI]",
    "q",
    "verdict",
    "noise",
    "MDE",
    "samples",
)


def _header(columns: Sequence[str]) -> str:
    return "<tr>" + "".join(f"<th>{_esc(c)}</th>" for c in columns) + "</tr>"


def _html_row(r: Row, labels: tuple[str, str]) -> str:
    c = r.comparison
    verdict = r.verdict + _suffix(r)
    note = (c.note if c else r.note) or ""
    cells = [
        f"<td><code>{_esc(r.test)}</code></td><td>{_esc(r.metric)}</td>",
        f"<td>{_esc(format_value(c.median_a if c else None, r.unit))}</td>",
        f"<td>{_esc(format_value(c.median_b if c else None, r.unit))}</td>",
        f"<td>{_esc(_ratio(r))}</td><td>{_esc(_q(r))}</td>",
        _el("td", _esc(verdict), class_=r.verdict.replace(" ", "-"), title=note),
        f"<td>{_esc(_noise(r))}</td><td>{_esc(_mde(r))}</td>",
        f"<td>{_strip(r, labels)}</td>",
    ]
    return "<tr>" + "".join(cells) + "</tr>"


def render_html(cmp: ABComparison, ctx: ReportContext) -> str:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{_esc(ctx.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_esc(ctx.title)}</h1><ul>",
    ]
    for cand in cmp.candidates:
        line = summary_line(cmp, cand, ctx).replace("**", "")
        parts.append(f"<li>{_esc(line)}</li>")
    parts.append(f"</ul><p>{_esc(_method(cmp))}</p>")
    if ctx.confirmed:
        names = ", ".join(ctx.confirmed)
        parts.append(f"<p>Confirmed with {ctx.confirm_rounds} extra rounds: {_esc(names)}</p>")
    if ctx.environments:
        parts.append("<h2>Environments</h2><table>" + _header(_ENV_COLUMNS))
        for env in ctx.environments.values():
            cells = "".join(f"<td><code>{_esc(env.get(k, ''))}</code></td>" for k in _ENV_COLUMNS)
            parts.append(f"<tr>{cells}</tr>")
        parts.append("</table>")
    for cand in cmp.candidates:
        rows = cmp.rows_of(cand)
        parts.append(f"<h2>{_esc(cand)} vs {_esc(cmp.baseline)}</h2>")
        for metric in cmp.metrics:
            metric_rows = sorted((r for r in rows if r.metric == metric), key=lambda r: r.test)
            parts.append(f"<h3>{_esc(metric)}: ratio {_esc(cand)}/{_esc(cmp.baseline)}</h3>")
            parts.append(_forest(metric_rows, cmp.threshold))
        attributed = _attributed(rows)
        if attributed:
            parts.append(
                f"<h3>{_esc(_ATTRIBUTION_TITLE)}</h3><p>{_esc(_ATTRIBUTION_NOTE)}</p>"
                "<table>" + _header(_ATTRIBUTION_COLUMNS)
            )
            for r, part in attributed:
                tds = [_esc(c) for c in _attribution_cells(r, part)]
                tds[0], tds[1] = f"<code>{tds[0]}</code>", f"<code>{tds[1]}</code>"
                verdict = _el("td", tds[-1], class_=part.verdict.replace(" ", "-"))
                cells = "".join(f"<td>{c}</td>" for c in tds[:-1])
                parts.append(f"<tr>{cells}{verdict}</tr>")
            parts.append("</table>")
        parts.append("<h3>All comparisons</h3><table>" + _header(_ROW_COLUMNS))
        parts.extend(_html_row(r, (cmp.baseline, cand)) for r in _sorted(rows))
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def terminal_tables(cmp: ABComparison, ctx: ReportContext) -> list[Table]:
    tables = []
    for cand in cmp.candidates:
        title = escape(summary_line(cmp, cand, ctx).replace("**", ""))
        table = Table(title=title, title_justify="left")
        columns = ("benchmark", "metric", "A", "B", "ratio [CI]", "q", "verdict", "noise", "MDE")
        for col in columns:
            right = col in ("A", "B", "q", "noise", "MDE")
            table.add_column(col, justify="right" if right else "left")
        for r in _sorted(cmp.rows_of(cand)):
            c = r.comparison
            style = _STYLES.get(r.verdict, "dim")
            table.add_row(
                escape(r.test),  # "test_x[p2p]" is not rich markup
                r.metric,
                format_value(c.median_a if c else None, r.unit),
                format_value(c.median_b if c else None, r.unit),
                _ratio(r),
                _q(r),
                f"[{style}]{r.verdict}{escape(_suffix(r))}[/]",
                _noise(r),
                _mde(r),
            )
        tables.append(table)
        attributed = _attributed(cmp.rows_of(cand))
        if attributed:
            breakdown = Table(
                title=escape(
                    f"{_ATTRIBUTION_TITLE}: {cand} vs {cmp.baseline} ({_ATTRIBUTION_NOTE})"
                ),
                title_justify="left",
            )
            for col in _ATTRIBUTION_COLUMNS:
                right = col in ("B - A", "A", "B", "q")
                breakdown.add_column(col, justify="right" if right else "left")
            for r, part in attributed:
                cells = [escape(c) for c in _attribution_cells(r, part)]
                style = _STYLES.get(part.verdict, "dim")
                cells[-1] = f"[{style}]{cells[-1]}[/]"
                breakdown.add_row(*cells)
            tables.append(breakdown)
    return tables


def write_reports(cmp: ABComparison, ctx: ReportContext, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"md": out / "report.md", "json": out / "report.json", "html": out / "index.html"}
    paths["md"].write_text(render_markdown(cmp, ctx))
    paths["json"].write_text(render_json(cmp, ctx))
    paths["html"].write_text(render_html(cmp, ctx))
    return paths
