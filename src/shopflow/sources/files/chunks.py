"""Which files of a commit are read together, in one query.

Runs of consecutive non-empty JSON (or JSON-lines) files of one format are read by one query
(`extract_files`), up to a size; every other file is read alone (`extract_file`). A run keeps
the files' order, so rows land in the order of their files.
"""

from __future__ import annotations

from shopflow.config.model import FileTable
from shopflow.errors import SourceError
from shopflow.sources.files.extract import MANY_FORMATS
from shopflow.storage import FileInfo

# One query reads files until it holds this many input bytes or files.
CHUNK_BYTES = 16 << 20  # small enough that the next run's shapes are found while one is read (see `ahead`)
CHUNK_FILES = 256


def readable_together(file: FileInfo, table: FileTable) -> bool:
    """True if `file` can be read with others in one query."""
    try:
        return file.size > 0 and table.format_of(file.url) in MANY_FORMATS
    except SourceError:
        return False


def chunks(files: list[FileInfo], table: FileTable) -> list[list[FileInfo]]:
    """`files` cut into runs read in one query each; a file that cannot be read with others is a run alone."""
    out: list[list[FileInfo]] = []
    size = 0
    for file in files:
        last = out[-1] if out else []
        joins = (
            last and readable_together(file, table) and readable_together(last[0], table)
            and table.format_of(file.url) == table.format_of(last[0].url)
            and size + file.size <= CHUNK_BYTES and len(last) < CHUNK_FILES
        )
        if joins:
            last.append(file)
            size += file.size
        else:
            out.append([file])
            size = file.size
    return out
