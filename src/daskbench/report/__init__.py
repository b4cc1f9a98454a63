"""Every renderer: terminal tables, exports, markdown, A/B reports, detection reports and the
static dashboard. Renderers take domain objects (runs, results, an
:class:`~daskbench.ab.ABComparison`, a :class:`~daskbench.history.Detection`) and return text;
verdicts and statuses arrive as enums (:class:`~daskbench.stats.Verdict`,
:class:`~daskbench.history._detect.ChangeStatus`), and fingerprints are shown masked
(:func:`daskbench._secrets.mask_diff`).

Modules: ``_terminal`` (live progress, summary), ``_export`` (JSON/CSV records),
``_markdown`` (helpers), ``_ab`` (A/B: Markdown, JSON, HTML, terminal), ``_history``
(``daskbench detect``: text, Markdown, JSON), ``dashboard/`` (the static site).
"""

from daskbench.report._export import export_records, records_to_csv, records_to_json

__all__ = ["export_records", "records_to_csv", "records_to_json"]
