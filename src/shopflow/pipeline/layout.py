"""Where each table lives in the lake: `<lake>/raw/<source>/<table>` and `<lake>/quarantine/<source>/<table>`."""

from __future__ import annotations

from dataclasses import dataclass

from shopflow import quarantine
from shopflow.config.model import PipelineConfig
from shopflow.lake.table import LakeTable
from shopflow.storage import Location


@dataclass(frozen=True)
class LakeLayout:
    """The lake tables of one source table: its main table, children and quarantine."""

    config: PipelineConfig
    source: str
    table: str

    @property
    def key(self) -> str:
        """`source/table`: names the main lake table in the warehouse's ledger."""
        return f"{self.source}/{self.table}"

    def _root(self) -> Location:
        return Location(self.config.lake, self.config.storage)

    def output(self, name: str) -> LakeTable:
        """The lake table of output `name`: the table itself, a child, or `_quarantine`."""
        if name == quarantine.TABLE:
            return LakeTable(self._root().join("quarantine", self.source, self.table), f"quarantine of {self.table}")
        return LakeTable(self._root().join("raw", self.source, name), name)

    @property
    def main(self) -> LakeTable:
        """The main lake table, whose commits carry the ledger."""
        return self.output(self.table)
