"""Change data capture from PostgreSQL by logical replication (pgoutput), into the lake exactly once.

`settings.CdcSettings` says what to capture; `pipeline.extract_cdc.extract_cdc` runs it;
`slot.drop` removes the slot and publication; `slot.check_lag` measures the WAL the slot holds.
"""

from shopflow.sources.cdc.settings import CdcSettings, CdcTable

__all__ = ["CdcSettings", "CdcTable"]
