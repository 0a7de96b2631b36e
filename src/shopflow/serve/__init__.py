"""Servers: the ingest API and the dashboard."""
