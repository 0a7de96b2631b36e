"""Where generated files go: a local folder, `s3://bucket/prefix`, `az://container/prefix`, any fsspec URL.

Credentials are either fsspec storage options for the URL's filesystem (`key`, `secret`,
`endpoint_url`, `client_kwargs` for s3fs; `connection_string` or `account_name`/`account_key`
for adlfs), or shopflow's own `storage:` settings (a `StorageConfig` or a dict shaped like it,
`{"s3": {...}, "azure": {...}}`), so a demo can write where a pipeline file reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shopflow.config.model import StorageConfig
from shopflow.errors import StorageError

if TYPE_CHECKING:
    import fsspec

StorageOptions = Mapping[str, Any] | StorageConfig | None
"""fsspec storage options, or shopflow `storage:` settings."""


class Target:
    """A folder-like place to write generated files into.

    Args:
        url: A local folder, `s3://bucket/prefix`, `az://container/prefix` or another fsspec URL.
        storage: fsspec storage options, or shopflow storage settings (see the module docs).
    """

    def __init__(self, url: str, storage: StorageOptions = None) -> None:
        self.url = str(url).rstrip("/")
        self.fs, self.root = _filesystem(self.url, storage)
        self._local = "://" not in self.url or self.url.startswith("file://")

    def write(self, name: str, data: bytes | Sequence[bytes]) -> str:
        """Write `data` (bytes, or pieces to concatenate) at `name` below the target; return the file's full URL."""
        path = f"{self.root.rstrip('/')}/{name}"
        try:
            if self._local:
                self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            if isinstance(data, bytes):
                self.fs.pipe_file(path, data)
            else:
                with self.fs.open(path, "wb") as out:
                    for piece in data:
                        out.write(piece)
        except Exception as exc:  # fsspec backends raise their SDK's own errors
            raise StorageError(
                f"cannot write {self.url}/{name}: {exc}",
                fix="check that the bucket or container exists and the credentials may write to it",
            ) from exc
        return f"{self.url}/{name}"


def _filesystem(url: str, storage: StorageOptions) -> tuple[fsspec.AbstractFileSystem, str]:
    if isinstance(storage, StorageConfig) or (storage and set(storage) <= {"s3", "azure"}):
        from shopflow.storage import Location

        config = storage if isinstance(storage, StorageConfig) else StorageConfig.model_validate(storage)
        location = Location(url, config)
        return location.filesystem(), location.path
    from fsspec.core import url_to_fs

    try:
        fs, root = url_to_fs(url, **dict(storage or {}))
    except (ImportError, ValueError, TypeError) as exc:
        raise StorageError(
            f"cannot open {url}: {exc}",
            fix="use a local folder, s3://bucket/prefix or az://container/prefix with matching storage options",
        ) from exc
    return fs, str(root)
