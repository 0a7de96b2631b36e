"""Orchestration: schedules, the run ledger, retries, freshness, incidents and alerts, backfills."""
