"""shopflow, in-process: the harness writes the pipeline file, this runs it once (and its dbt step, if any).

Spec keys: config (the shopflow.yml content as a mapping), workdir, tables (key -> warehouse table).
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))

from protocol import read_spec, report

from shopflow.config import load_config
from shopflow.pipeline.run import run_pipeline
from shopflow.transform.report import FAILED


def main() -> None:
    spec = read_spec()
    path = Path(spec["workdir"]) / "shopflow.yml"
    path.write_text(yaml.safe_dump(spec["config"], sort_keys=False), encoding="utf-8")
    result = run_pipeline(load_config(path))
    failed = [f"{t.table}: {t.error}" for t in result.tables if t.error]
    if result.transform_error:
        failed.append(f"transform: {result.transform_error}")
    elif result.transform is not None and not result.transform.ok:
        runs = [(n.name, n.status) for n in result.transform.models] + [
            (n.name, n.status) for n in result.transform.tests]
        bad = [f"{name} {status}" for name, status in runs if status in FAILED]
        failed.append(f"transform: {', '.join(bad)} (dbt log: {result.transform.log_path})")
    quarantined = sum(t.quarantined for t in result.tables)
    if quarantined:
        failed.append(f"{quarantined} records quarantined")
    if failed:
        print("\n".join(failed), file=sys.stderr)
        sys.exit(1)
    report(tables=spec["tables"], rows=sum(sum(t.rows_loaded.values()) for t in result.tables))


if __name__ == "__main__":
    main()
