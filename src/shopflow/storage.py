"""Locations: a local folder, an `s3://` bucket or an `az://` container, behind one interface.

fsspec (s3fs, adlfs) lists and reads source files; delta-rs gets the same credentials as
storage options for the lake. Credentials come from `storage:` in the pipeline file, else
from the usual environment variables (AWS_*, AZURE_STORAGE_CONNECTION_STRING).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shopflow.config.model import StorageConfig
from shopflow.errors import StorageError
from shopflow.temp import is_disk_full, temp_error

if TYPE_CHECKING:
    import fsspec


@dataclass(frozen=True)
class FileInfo:
    """One source file and the identity that tells whether it changed.

    Attributes:
        url: Full location, `s3://b/k`, `az://c/k` or an absolute local path.
        size: Bytes.
        version: The ETag for object stores, the modification time (ns) for local files.
    """

    url: str
    size: int
    version: str


@dataclass(frozen=True)
class Location:
    """A folder-like place: local path, `s3://bucket/prefix` or `az://container/prefix`."""

    url: str
    storage: StorageConfig

    @property
    def scheme(self) -> str:
        """`file`, `s3` or `az`."""
        if "://" not in self.url:
            return "file"
        scheme = self.url.split("://", 1)[0].lower()
        aliases = {"s3a": "s3", "abfs": "az", "abfss": "az", "azure": "az", "file": "file"}
        scheme = aliases.get(scheme, scheme)
        if scheme not in ("s3", "az", "file"):
            raise StorageError(
                f"unsupported location scheme {scheme!r} in {self.url!r}",
                fix="use a local folder, s3://bucket/prefix or az://container/prefix",
            )
        return scheme

    @property
    def path(self) -> str:
        """The location without its scheme, as fsspec wants it."""
        return self.url.split("://", 1)[1] if "://" in self.url else self.url

    def join(self, *parts: str) -> Location:
        """A location below this one."""
        return Location("/".join([self.url.rstrip("/"), *parts]), self.storage)

    def filesystem(self) -> fsspec.AbstractFileSystem:
        """The fsspec filesystem that reads this location."""
        scheme = self.scheme
        if scheme == "file":
            from fsspec.implementations.local import LocalFileSystem

            return LocalFileSystem()
        if scheme == "s3":
            import s3fs

            s3 = self.storage.s3
            secret = s3.secret_access_key.get_secret_value() if s3.secret_access_key else None
            client_kwargs = {"region_name": s3.region} if s3.region else {}
            return s3fs.S3FileSystem(
                key=s3.access_key_id, secret=secret, endpoint_url=s3.endpoint_url,
                client_kwargs=client_kwargs, skip_instance_cache=True,
            )
        import adlfs

        creds = _azure_credentials(self.storage)
        if "account_url" in creds:  # a custom endpoint (Azurite, sovereign clouds) needs a connection string
            scheme = creds["account_url"].split("://", 1)[0]
            return adlfs.AzureBlobFileSystem(connection_string=(
                f"DefaultEndpointsProtocol={scheme};AccountName={creds['account_name']};"
                f"AccountKey={creds['account_key']};BlobEndpoint={creds['account_url']};"
            ), skip_instance_cache=True)
        return adlfs.AzureBlobFileSystem(**creds, skip_instance_cache=True)

    def delta_storage_options(self) -> dict[str, str]:
        """Storage options for delta-rs (object_store) at this location."""
        scheme = self.scheme
        if scheme == "s3":
            s3 = self.storage.s3
            env = os.environ.get
            options: dict[str, str | None] = {
                "AWS_ACCESS_KEY_ID": s3.access_key_id or env("AWS_ACCESS_KEY_ID"),
                "AWS_SECRET_ACCESS_KEY": (
                    s3.secret_access_key.get_secret_value() if s3.secret_access_key
                    else os.environ.get("AWS_SECRET_ACCESS_KEY")
                ),
                "AWS_REGION": s3.region or env("AWS_REGION") or env("AWS_DEFAULT_REGION") or "us-east-1",
                "AWS_ENDPOINT_URL": s3.endpoint_url or env("AWS_ENDPOINT_URL"),
                # S3 supports If-Match/If-None-Match: safe concurrent commits without a lock table.
                "AWS_CONDITIONAL_PUT": "etag",
            }
            endpoint = options["AWS_ENDPOINT_URL"] or ""
            if endpoint.startswith("http://"):
                options["AWS_ALLOW_HTTP"] = "true"
            return {k: v for k, v in options.items() if v}
        if scheme == "az":
            creds = _azure_credentials(self.storage)
            azure = {"account_name": creds.get("account_name", ""), "account_key": creds.get("account_key", "")}
            account_url = creds.get("account_url")
            if account_url:
                azure["endpoint"] = account_url
                if account_url.startswith("http://"):
                    azure["allow_http"] = "true"
            return {k: v for k, v in azure.items() if v}
        return {}

    def list_files(self, pattern: str) -> list[FileInfo]:
        """The files below this location matching the glob `pattern`, sorted by URL."""
        fs = self.filesystem()
        glob = f"{self.path.rstrip('/')}/{pattern.lstrip('/')}"
        try:
            found = fs.glob(glob, detail=True)
        except FileNotFoundError:
            return []
        except Exception as exc:  # fsspec backends raise their SDK's own errors
            raise StorageError(
                f"cannot list {self.url}: {exc}",
                fix="check the location and the credentials under storage: in shopflow.yml",
            ) from exc
        assert isinstance(found, dict)
        files = []
        for name, info in found.items():
            if info.get("type") != "file":
                continue
            url = name if self.scheme == "file" else f"{self.scheme}://{name}"
            files.append(FileInfo(url=url, size=int(info.get("size") or 0), version=_version_of(info)))
        return sorted(files, key=lambda f: f.url)

    def fetch(self, file: FileInfo, folder: Path) -> Path:
        """A local path holding `file`: the file itself when local, else a copy in `folder`."""
        if self.scheme == "file":
            return Path(file.url)
        target = folder / Path(file.url.split("://", 1)[1]).name
        fs = self.filesystem()
        try:
            with fs.open(file.url.split("://", 1)[1], "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, length=8 << 20)
        except Exception as exc:
            target.unlink(missing_ok=True)
            if is_disk_full(exc):  # the copy, not the source, failed
                raise temp_error(exc) from None
            raise StorageError(
                f"cannot read {file.url}: {exc}", fix="check the credentials and that the file exists"
            ) from exc
        return target


def _version_of(info: dict[str, object]) -> str:
    for key in ("ETag", "etag"):
        if info.get(key):
            return str(info[key]).strip('"')
    mtime = info.get("mtime") or info.get("LastModified") or info.get("last_modified")
    return str(mtime)


def _azure_credentials(storage: StorageConfig) -> dict[str, str]:
    """Azure credentials as adlfs keyword arguments: account_name, account_key, account_url."""
    az = storage.azure
    connection = (
        az.connection_string.get_secret_value() if az.connection_string
        else os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
    )
    creds: dict[str, str] = {}
    if connection:
        parts = dict(p.split("=", 1) for p in connection.split(";") if "=" in p)
        creds["account_name"] = parts.get("AccountName", "")
        creds["account_key"] = parts.get("AccountKey", "")
        if "BlobEndpoint" in parts:
            creds["account_url"] = parts["BlobEndpoint"]
    name = az.account_name or os.environ.get("AZURE_STORAGE_ACCOUNT_NAME")
    key = az.account_key.get_secret_value() if az.account_key else os.environ.get("AZURE_STORAGE_ACCOUNT_KEY")
    if name:
        creds["account_name"] = name
    if key:
        creds["account_key"] = key
    if az.endpoint:
        creds["account_url"] = az.endpoint
    if not creds.get("account_name"):
        raise StorageError(
            "no Azure credentials for an az:// location",
            fix="set storage.azure.connection_string (or account_name and account_key) in shopflow.yml, "
            "or export AZURE_STORAGE_CONNECTION_STRING",
        )
    return creds
