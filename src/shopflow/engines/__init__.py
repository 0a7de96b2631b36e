"""Engines other than DuckDB that shopflow can hand the heavy step of an extract to."""
