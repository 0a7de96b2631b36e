"""Files in a folder, S3 or Azure Blob: JSON, JSON lines, CSV, Parquet and XLSX, each also gzipped."""

from shopflow.sources.files.extract import (
    FileExtract,
    ManyFilesError,
    PartialFileError,
    extract_file,
    extract_files,
    quarantine_whole_file,
)

__all__ = [
    "FileExtract",
    "ManyFilesError",
    "PartialFileError",
    "extract_file",
    "extract_files",
    "quarantine_whole_file",
]
