"""Reports: terminal tables, exports, markdown and the static dashboard."""

from daskbench.report._export import export_records, records_to_csv, records_to_json

__all__ = ["export_records", "records_to_csv", "records_to_json"]
