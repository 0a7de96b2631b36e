"""Output that reads at 80 columns: the run and status tables keep one line per table, names whole.

Real runs of a pipeline whose table names are long (a child table of 38 characters), printed on
a Rich console 80 columns wide, as a terminal with COLUMNS=80 gives; the rows columns say what
each run did to each warehouse table: new, updated and deleted rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console

from shopflow.cli.render import print_report, print_status
from shopflow.config import load_config
from shopflow.pipeline.run import RunReport, run_pipeline
from shopflow.pipeline.status import pipeline_status
from tests.helpers import write_pipeline

PARENT, CHILD = "order_payments_and_refunds", "order_payments_and_refunds__line_items"


def orders(*rows: tuple[int, str, bool]) -> str:
    return "".join(json.dumps({"id": i, "updated_at": at, "gone": gone, "line_items": [{"sku": f"s{i}"}]}) + "\n"
                   for i, at, gone in rows)


def printed(render: Any, *args: Any) -> list[str]:
    console = Console(width=80, record=True, force_terminal=False, color_system=None)
    render(console, *args)
    return [line.rstrip() for line in console.export_text().splitlines() if line.strip()]


def row_of(lines: list[str], name: str) -> list[str]:
    (line,) = [line for line in lines if line.split()[0] == name]
    return line.split()


def test_run_and_status_tables_fit_80_columns_with_new_updated_deleted(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.jsonl").write_text(orders((1, "2024-05-01T10:00:00", False), (2, "2024-05-01T10:00:00", False),
                                         (3, "2024-05-01T10:00:00", False)), encoding="utf-8")
    path = write_pipeline(tmp_path, str(data), [{
        "name": PARENT, "files": "*.jsonl", "primary_key": "id", "cursor": "updated_at",
        "write_disposition": "merge", "delete_column": "gone"}])
    config = load_config(path)
    first = run_pipeline(config)
    # the next file: order 1 changed, order 4 new; then one that deletes order 2
    (data / "b.jsonl").write_text(orders((1, "2024-05-02T10:00:00", False), (4, "2024-05-02T10:00:00", False)),
                                  encoding="utf-8")
    second = run_pipeline(config)
    (data / "c.jsonl").write_text(orders((2, "2024-05-03T10:00:00", True)), encoding="utf-8")
    third = run_pipeline(config)

    for report, expected in ((first, ["3", "0", "0"]), (second, ["1", "1", "0"]), (third, ["0", "0", "1"])):
        lines = printed(print_report, report, config)
        assert all(len(line) <= 80 for line in lines), lines
        header = lines[1].split()
        assert header[0] == "table" and header[-5:] == ["new", "updated", "deleted", "quarantined", "status"]
        parent, child = row_of(lines, PARENT), row_of(lines, CHILD)  # each name whole, on one line
        assert parent[-5:] == [*expected, "0", "ok"]
        assert child[1:] == expected  # the line items of each order went the same way
        assert sum(1 for line in lines if "order_paym" in line) == 2
        assert "…" not in "".join(lines)

    status = printed(print_status, pipeline_status(config))
    assert all(len(line) <= 80 for line in status), status
    assert status[0].split()[:4] == ["table", "lake", "applied", "rows"]
    cells = row_of(status, PARENT)
    assert cells[1] == cells[2] and cells[3] == "3"  # the last lake version applied; orders 1, 3 and 4 left
    assert len(status) == 2


def test_a_run_that_changed_nothing_shows_zeros(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.jsonl").write_text(orders((1, "2024-05-01T10:00:00", False)), encoding="utf-8")
    config = load_config(write_pipeline(tmp_path, str(data), [{"name": "orders", "files": "*.jsonl"}]))
    run_pipeline(config)
    idle: RunReport = run_pipeline(config)

    lines = printed(print_report, idle, config)
    assert row_of(lines, "orders")[1:] == ["0", "0", "0", "0", "0", "0", "ok"]  # files, read, new, ...
