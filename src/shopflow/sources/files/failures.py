"""Tell a failure of the machine from a failure of the file.

A file DuckDB cannot parse is quarantined and counts as read. A read that fails because the
machine ran out of something (the temporary disk DuckDB spills to is full, its folder cannot
be written, memory is exhausted) says nothing about the file: quarantining it would consume
it, and its rows would never load. Such a failure fails the table instead, commits nothing,
and leaves the file for the next run.
"""

from __future__ import annotations

import errno
import os

from shopflow.engine import DEFAULT_MEMORY_LIMIT, MEMORY_LIMIT_ENV
from shopflow.errors import StorageError
from shopflow.temp import is_disk_full, temp_root

# DuckDB's own limit on its spill files, set from the free space of its temporary folder.
_SPILL_LIMIT = "max_temp_directory_size"
# Write or access failures of an IO Error that no file's content can cause.
_UNWRITABLE_TEXTS = ("permission denied", "read-only file system", "could not write file",
                     "failed to create directory", "input/output error")
_UNWRITABLE_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO)
# How DuckDB's errors begin once Arrow's stream has turned them into its own.
_OUT_OF_MEMORY = "out of memory error"
_IO_ERROR = "io error"


def environmental(exc: BaseException) -> StorageError | None:
    """The StorageError for `exc` if it, or an error it was raised from, is the machine's; else None.

    Only DuckDB's IO and out-of-memory errors, OSErrors, and Arrow errors that carry one of
    those count: a parse error quotes the file's text, which may say anything.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _classify(current)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def raise_environmental(exc: BaseException) -> None:
    """Raise `environmental(exc)` from `exc` if there is one: call it before treating a failure as the file's.

    Raises:
        StorageError: The failure is the machine's, not the file's.
    """
    machine = environmental(exc)
    if machine is not None:
        raise machine from exc


def _classify(exc: BaseException) -> StorageError | None:
    import duckdb
    import pyarrow as pa

    first = _first_line(exc)
    text = first.lower()
    if isinstance(exc, OSError):
        if exc.errno in _UNWRITABLE_ERRNOS or is_disk_full(exc):
            return _storage(exc, first)
        return None
    if isinstance(exc, duckdb.OutOfMemoryException) or (
            isinstance(exc, pa.ArrowException) and _OUT_OF_MEMORY in text):
        return _storage(exc, first)
    io_error = isinstance(exc, duckdb.IOException) or (isinstance(exc, pa.ArrowException) and _IO_ERROR in text)
    if io_error and (is_disk_full(exc) or any(t in text for t in _UNWRITABLE_TEXTS)):
        return _storage(exc, first)
    return None


def _storage(exc: BaseException, first: str) -> StorageError:
    """The error naming the cause and its fix; the file read stays pending."""
    spill = temp_root()
    pending = "nothing was committed for this table's files being read, so the next run reads them again"
    limit = (f"set to {os.environ[MEMORY_LIMIT_ENV]}" if os.environ.get(MEMORY_LIMIT_ENV)
             else f"{DEFAULT_MEMORY_LIMIT} when unset")
    if is_disk_full(exc) or _SPILL_LIMIT in str(exc):
        return StorageError(
            f"DuckDB ran out of disk space for its temporary files below {spill} while reading: {first}",
            fix=(f"free space in {spill}, or point TMPDIR at a folder with room (e.g. TMPDIR=/var/tmp shopflow "
                 f"run ...), or give DuckDB more memory so it spills less ({MEMORY_LIMIT_ENV}, {limit}); "
                 f"{pending}"),
            folder=str(spill),
        )
    if isinstance(exc, OSError) or _IO_ERROR in first.lower():
        return StorageError(
            f"DuckDB cannot write or read a file it needs while reading: {first}",
            fix=(f"make {spill} writable (DuckDB spills there) and check the disk, or point TMPDIR at a folder "
                 f"shopflow may write to; {pending}"),
            folder=str(spill),
        )
    return StorageError(
        f"DuckDB ran out of memory while reading: {first}",
        fix=(f"raise {MEMORY_LIMIT_ENV} ({limit}; e.g. {MEMORY_LIMIT_ENV}=2GB), or free memory on the "
             f"machine; {pending}"),
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__
