"""What a reader makes of files: a query of their records, not yet run, and the lines it refused."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb
    from duckdb.sqltypes import DuckDBPyType


@dataclass
class RejectedLine:
    """A line a reader refused, with why."""

    line: int | None
    reason: str
    raw: str


@dataclass
class FileRead:
    """What a reader made of files: a query of their records (not yet run) and refused lines.

    Attributes:
        sql: The query.
        rejected: Lines the reader refused.
        columns: The records' columns and types, when known without binding `sql`.
        source: `sql` has a column `_sf_src`, the local path of each row's file (see `json_read`).
        cleanup: Temporary files `sql` reads, to delete once it has run.
        temp_tables: Temporary tables `sql` reads, to drop once it has run.
        reused: `sql` types the records with types detected in earlier files (see `shapes`).
    """

    sql: str
    rejected: list[RejectedLine] = field(default_factory=list)
    columns: list[tuple[str, DuckDBPyType]] | None = None
    source: bool = False
    cleanup: list[Path] = field(default_factory=list)
    temp_tables: list[str] = field(default_factory=list)
    reused: bool = False

    def close(self, con: duckdb.DuckDBPyConnection) -> None:
        """Delete the temporary files and tables the query read."""
        for path in self.cleanup:
            path.unlink(missing_ok=True)
        for name in self.temp_tables:
            con.execute(f"DROP TABLE IF EXISTS {name}")
