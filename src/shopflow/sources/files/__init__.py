"""Files in a folder, S3 or Azure Blob: JSON, JSON lines, CSV, Parquet and XLSX, each also gzipped."""

from shopflow.sources.files.extract import FileExtract, PartialFileError, extract_file, quarantine_whole_file

__all__ = ["FileExtract", "PartialFileError", "extract_file", "quarantine_whole_file"]
