"""What `shopflow demo` reports: per pipeline, each warehouse table with its rows, change, time and quarantine."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shopflow.demo.showcase.pipelines import Prepared
    from shopflow.pipeline.run import RunReport
    from shopflow.transform.report import TransformReport


@dataclass
class TableLine:
    """One table or view of a pipeline's warehouse after a run.

    Attributes:
        name: `schema.table`.
        kind: `raw`, `quarantine`, `model` or `view`.
        rows: Rows now.
        added: Rows now less rows before the run (None on the first run).
        read: Rows the run read from the source for a raw table: new and changed (None for models).
        seconds: Extract and load time of a raw table, build time of a model (None if not timed).
        quarantined: Records the run quarantined for a raw table (0 for the others).
    """

    name: str
    kind: str
    rows: int
    added: int | None = None
    read: int | None = None
    seconds: float | None = None
    quarantined: int = 0


@dataclass
class PipelineResult:
    """What the demo did for one pipeline.

    Attributes:
        name: The pipeline (and example) name.
        title: What it moves.
        round_no: 0 for the initial build, then 1, 2, ... for each round of changes.
        config: The pipeline file the demo wrote and ran.
        warehouse: The pipeline's DuckDB warehouse.
        query: A query worth trying on it.
        prepared: The data delivered this round (None if nothing new, or resumed after an interruption).
        resumed: This round's data was written by an earlier demo that stopped before running the pipeline.
        tables: Every table and view of the warehouse but shopflow's state.
        run: The extract-and-load report.
        transform: The dbt report.
        error: What stopped the pipeline, if something did.
        load_seconds: Extract and load time.
        transform_seconds: dbt time.
        seconds: Everything, data preparation included.
    """

    name: str
    title: str
    round_no: int
    config: Path
    warehouse: Path
    query: str
    prepared: Prepared | None = None
    resumed: bool = False
    tables: list[TableLine] = field(default_factory=list)
    run: RunReport | None = None
    transform: TransformReport | None = None
    error: str | None = None
    load_seconds: float = 0.0
    transform_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """No table failed, and every model built and every test passed."""
        return (self.error is None and self.run is not None and not any(t.error for t in self.run.tables)
                and self.transform is not None and self.transform.ok)

    @property
    def quarantined(self) -> int:
        """Records quarantined by this run."""
        return self.run.quarantined if self.run is not None else 0

    def table(self, name: str) -> TableLine:
        """The line of table `schema.name`."""
        return next(t for t in self.tables if t.name == name)


@dataclass
class DemoReport:
    """What one `shopflow demo` did.

    Attributes:
        folder: The demo folder.
        seed: The seed of its data.
        scale: The size factor of its data.
        pipelines: One result per pipeline run.
        skipped: Pipelines not run, with the reason.
        notes: Things the user should know (e.g. options the folder does not take).
        seconds: Wall time.
    """

    folder: Path
    seed: int
    scale: float
    pipelines: list[PipelineResult] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Every pipeline ran clean."""
        return all(p.ok for p in self.pipelines)

    def pipeline(self, name: str) -> PipelineResult:
        """The result of pipeline `name`."""
        return next(p for p in self.pipelines if p.name == name)
