"""CSV import: grouping rows into runs and results, and one-line errors for bad files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from daskbench.errors import ConfigError
from daskbench.history import import_csv, parse_csv
from daskbench.store import open_store


def write(tmp_path: Path, text: str, name: str = "history.csv") -> Path:
    path = tmp_path / name
    path.write_text(text.lstrip("\n"), encoding="utf-8")
    return path


def test_rows_sharing_a_timestamp_form_a_run(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
test,metric,value,timestamp,revision
test_sum,wall_time,1.5,2025-03-01T02:00:00Z,abc
test_sum,peak_memory,2e9,2025-03-01T02:00:00Z,abc
test_sum,wall_time,1.7,2025-03-01T02:00:00Z,abc
test_mean,wall_time,0.5,2025-03-01T02:00:00Z,
test_sum,wall_time,1.6,2025-03-02T02:00:00+02:00,def
""",
    )
    parsed = parse_csv(path)
    assert [r.id for r in parsed.runs] == ["default@20250301T020000Z", "default@20250302T000000Z"]
    first = parsed.runs[0]
    assert first.label == "default"
    assert first.revision == "abc"
    assert first.started_at == datetime(2025, 3, 1, 2, tzinfo=UTC)
    summary = [(r.run_id[-16:], r.test, r.repeat, r.metrics) for r in parsed.results]
    assert summary == [
        ("20250301T020000Z", "test_sum", 0, {"wall_time": 1.5, "peak_memory": 2e9}),
        ("20250301T020000Z", "test_sum", 1, {"wall_time": 1.7}),
        ("20250301T020000Z", "test_mean", 0, {"wall_time": 0.5}),
        ("20250302T000000Z", "test_sum", 0, {"wall_time": 1.6}),
    ]
    units = {m.metric: m.unit for r in parsed.results for m in r.measurements}
    assert units == {"wall_time": "s", "peak_memory": "B"}
    assert parsed.measurements == 5


def test_run_id_and_label_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
run_id,label,test,metric,value,timestamp
ci-1,gpu,test_a,wall_time,1,1740787200
ci-1,gpu,test_a,wall_time,2,1740787260
ci-2,gpu,test_a,wall_time,3,2025-03-02 00:00:00
""",
    )
    parsed = parse_csv(path)
    assert [(r.id, r.label) for r in parsed.runs] == [("ci-1", "gpu"), ("ci-2", "gpu")]
    assert parsed.runs[0].started_at == datetime(2025, 3, 1, tzinfo=UTC)
    assert parsed.runs[0].finished_at == datetime(2025, 3, 1, 0, 1, tzinfo=UTC)
    assert [r.repeat for r in parsed.results] == [0, 1, 0]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("test,metric,value\nt,m,1\n", r"history\.csv:1: missing column\(s\) timestamp"),
        ("test,metric,value,timestamp,unit\n", r"history\.csv:1: unknown column\(s\) 'unit'"),
        ("test,metric,value,timestamp\nt,m,fast,2025-01-01\n", r":2: column 'value': not a number"),
        (
            "test,metric,value,timestamp\nt,m,nan,2025-01-01\n",
            r":2: column 'value': must be finite",
        ),
        (
            "test,metric,value,timestamp\nt,m,1,2025-01-01\nt,m,1,yesterday\n",
            r"history\.csv:3: column 'timestamp': not an ISO 8601 timestamp",
        ),
        ("test,metric,value,timestamp\nt,m,1\n", r":2: expected 4 fields, got 3"),
        ("test,metric,value,timestamp\n,m,1,2025-01-01\n", r":2: column 'test': empty"),
        (
            "run_id,label,test,metric,value,timestamp\nr,a,t,m,1,2025-01-01\nr,b,t,m,1,2025-01-01\n",
            r":3: column 'label': run 'r' has label 'a' \(line 2\), got 'b'",
        ),
        (
            "test,metric,value,timestamp\nt,wall_time,1,2025-01-01\nt,wall_time,0,2025-01-02\n",
            r":3: column 'value': wall_time must be > 0 \(it is compared as a ratio\), got 0",
        ),
        (
            "test,metric,value,timestamp\nt,peak_memory,-5,2025-01-01\n",
            r":2: column 'value': peak_memory must be > 0",
        ),
        (
            "test,metric,value,timestamp\nt,spill_time,-1,2025-01-01\n",
            r":2: column 'value': spill_time is in 's' and cannot be negative",
        ),
        ("", r"history\.csv: empty file"),
        ("test,metric,value,timestamp\n", r"no data rows"),
    ],
)
def test_bad_files_name_file_line_and_column(tmp_path: Path, text: str, match: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=match) as info:
        parse_csv(path)
    assert "\n" not in str(info.value)


def test_zero_is_a_measurement_where_it_can_be(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "test,metric,value,timestamp\nt,spill_time,0,2025-01-01\nt,my_score,-3,2025-01-01\n",
    )
    (result,) = parse_csv(path).results
    assert result.metrics == {"spill_time": 0.0, "my_score": -3.0}


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        parse_csv(tmp_path / "nope.csv")


def test_a_bad_row_writes_nothing(tmp_path: Path) -> None:
    rows = "".join(f"test_a,wall_time,1.0,2025-01-{d:02d}\n" for d in range(1, 20))
    path = write(
        tmp_path, "test,metric,value,timestamp\n" + rows + "test_a,wall_time,x,2025-02-01\n"
    )
    with open_store(f"sqlite:///{tmp_path}/h.db") as store:
        with pytest.raises(ConfigError, match=":21: column 'value'"):
            import_csv(store, path)
        assert store.runs() == []
        assert store.results() == []


def test_import_and_reimport(tmp_path: Path) -> None:
    head = "test,metric,value,timestamp\n"
    old = "".join(f"test_a,wall_time,{d},2025-01-{d:02d}\n" for d in range(1, 4))
    first = write(tmp_path, head + old, "a.csv")
    grown = write(tmp_path, head + old + "test_a,wall_time,9,2025-01-09\n", "b.csv")
    with open_store("memory://") as store:
        summary = import_csv(store, first)
        assert (len(summary.runs), len(summary.results)) == (3, 3)
        with pytest.raises(ConfigError, match=r"already in the history; nothing imported"):
            import_csv(store, grown)
        assert len(store.runs()) == 3
        again = import_csv(store, grown, skip_existing=True)
        assert [r.id for r in again.runs] == ["default@20250109T000000Z"]
        assert len(again.skipped_runs) == 3
        assert [r.value("wall_time") for r in store.results()] == [1.0, 2.0, 3.0, 9.0]
