"""The lake: append-only Delta tables whose commits carry the ledger (files consumed, watermarks)."""

from shopflow.lake.ledger import Commit, FileEntry
from shopflow.lake.table import LakeTable

__all__ = ["Commit", "FileEntry", "LakeTable"]
