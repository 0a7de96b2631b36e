"""shopflow's temporary folders: locked while in use, swept when a killed run left them behind.

A run fetches object-store files and spools extracted batches below a `shopflow-fetch-*`
folder in the temporary folder ($TMPDIR). Each such folder holds a `.lock` file its process
keeps an exclusive `flock` on; the kernel drops the lock when the process dies, even by
kill -9. So a folder whose lock can be taken belongs to nobody and is removed at the start
of the next run, and a folder another live run uses is never touched.

A full temporary folder is reported once, as a StorageError naming the folder and the fix.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from shopflow.errors import ShopflowError, StorageError

log = logging.getLogger(__name__)

FETCH_PREFIX = "shopflow-fetch-"
LOCK_NAME = ".lock"
# A folder without a lock file is left alone this long: its creator may be about to lock it.
UNLOCKED_GRACE_S = 60.0
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_FULL_TEXTS = ("no space left on device", "disk quota exceeded")


def temp_root() -> Path:
    """The temporary folder shopflow writes below: $TMPDIR, else the system's."""
    return Path(tempfile.gettempdir())


@contextlib.contextmanager
def locked_folder(prefix: str = FETCH_PREFIX) -> Iterator[Path]:
    """A new folder below the temporary folder, locked by this process and removed at the end.

    Raises:
        StorageError: The temporary folder is full or cannot be written, also when the work
            inside the block fails for a full disk.
    """
    try:
        folder = Path(tempfile.mkdtemp(prefix=prefix))
    except OSError as exc:
        raise temp_error(exc) from None
    lock = None
    try:
        lock = open(folder / LOCK_NAME, "w")  # noqa: SIM115 - held open, and locked, until the folder goes
        _flock(lock.fileno(), blocking=True)
        yield folder
    except ShopflowError:
        raise
    except Exception as exc:  # OSError, or DuckDB's or Arrow's own error for a failed write
        if is_disk_full(exc):
            raise temp_error(exc) from None  # one error: the second failure (cleanup) says the same
        raise
    finally:
        if lock is not None:
            lock.close()
        shutil.rmtree(folder, ignore_errors=True)


def sweep(before: float | None = None, prefix: str = FETCH_PREFIX) -> list[Path]:
    """Remove the `prefix*` folders that no live process holds; return those removed.

    Only folders last changed before `before` (a time.time() value, default now) are
    considered. A folder with a lock file is removed when its lock can be taken (its process
    is gone); one without (left by an older shopflow) once it is older than a minute.
    """
    cutoff = time.time() if before is None else before
    removed = []
    for folder in sorted(temp_root().glob(f"{prefix}*")):
        try:
            if not folder.is_dir() or folder.stat().st_mtime >= cutoff:
                continue
            if not _abandoned(folder, cutoff):
                continue
        except OSError:  # gone meanwhile, or not ours to read
            continue
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            removed.append(folder)
    if removed:
        log.info("removed %d temporary folders left by runs that were killed: %s", len(removed),
                 ", ".join(str(f) for f in removed))
    return removed


def _abandoned(folder: Path, cutoff: float) -> bool:
    """True if no live process holds `folder`'s lock (or, without a lock file, it is old enough)."""
    lock_path = folder / LOCK_NAME
    if not lock_path.exists():
        return folder.stat().st_mtime < cutoff - UNLOCKED_GRACE_S
    with open(lock_path, "a") as lock:
        try:
            _flock(lock.fileno(), blocking=False)
        except BlockingIOError:
            return False
    return True


def _flock(fd: int, *, blocking: bool) -> None:
    """Take an exclusive lock on `fd`; without fcntl (Windows) nothing is locked and nothing swept."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        if not blocking:
            raise BlockingIOError from None
        return
    fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))


def is_disk_full(exc: BaseException) -> bool:
    """True if `exc` (an OSError, or DuckDB's or Arrow's error about a write) says the disk is full."""
    if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
        return True
    text = str(exc).lower()
    return any(t in text for t in _FULL_TEXTS) or "[errno 28]" in text


def temp_error(exc: BaseException) -> StorageError:
    """One StorageError for a failed write below the temporary folder: full, or not writable."""
    root = temp_root()
    if is_disk_full(exc):
        with contextlib.suppress(OSError):
            free = shutil.disk_usage(root).free
            return StorageError(
                f"the temporary folder {root} is full ({_size(free)} free): no space left on device",
                fix="free space there, or point TMPDIR at a folder with room (e.g. TMPDIR=/var/tmp shopflow run ...); "
                "nothing was committed for the file being read, so the next run reads it again",
                folder=str(root),
            )
        return StorageError(
            f"the temporary folder {root} is full: no space left on device",
            fix="free space there, or point TMPDIR at a folder with room", folder=str(root),
        )
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return StorageError(
        f"cannot write below the temporary folder {root}: {reason}",
        fix="make it writable, or point TMPDIR at a folder shopflow may write to", folder=str(root),
    )


def _size(free: int) -> str:
    value = float(free)
    for unit in ("bytes", "KB", "MB"):
        if value < 1024:
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} GB"
