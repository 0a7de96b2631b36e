"""A location that does not exist, or a glob that matches nothing, is a warning in the run and in status."""

from __future__ import annotations

from pathlib import Path

from shopflow.config import load_config
from shopflow.pipeline.status import pipeline_status
from tests.helpers import run, write_pipeline


def test_a_missing_location_folder_warns_in_the_run_and_in_status(tmp_path: Path) -> None:
    config = write_pipeline(tmp_path, str(tmp_path / "no_such_folder"), [{"name": "orders", "files": "*.csv"}])

    report = run(config)

    assert report.exit_code == 0  # nothing failed: nothing was there
    warning = report.tables[0].warning
    assert warning is not None and f"the folder {tmp_path / 'no_such_folder'} does not exist" in warning
    [status] = pipeline_status(load_config(config))
    assert status.warning is not None and "does not exist" in status.warning


def test_a_glob_that_matches_nothing_warns_and_a_matching_file_clears_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.CSV").write_text("id\n1\n")
    config = write_pipeline(tmp_path, str(data), [{"name": "orders", "files": "*.csv"}])

    warning = run(config).tables[0].warning

    assert warning == (f"no file matches '*.csv' in {data}; check location: of source 'shop' and files: of table "
                       "'orders' (the glob is relative to the location; ** matches subfolders)")
    (data / "b.csv").write_text("id\n2\n")
    assert run(config).tables[0].warning is None
    assert pipeline_status(load_config(config))[0].warning is None
