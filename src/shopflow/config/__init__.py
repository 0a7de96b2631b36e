"""The pipeline file, `shopflow.yml`: its model, and how it is read and validated."""

from shopflow.config.load import load_config
from shopflow.config.model import (
    ColumnSpec,
    FileSource,
    FileTable,
    PipelineConfig,
    StorageConfig,
    WarehouseConfig,
)

__all__ = [
    "ColumnSpec",
    "FileSource",
    "FileTable",
    "PipelineConfig",
    "StorageConfig",
    "WarehouseConfig",
    "load_config",
]
