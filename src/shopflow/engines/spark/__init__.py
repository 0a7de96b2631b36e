"""Spark as an engine: `engine: spark` on a file table, and Spark sessions over the lake.

PySpark is an optional extra (`pip install 'shopflow[spark]'`); nothing here imports it until
a session is asked for.
"""

from shopflow.engines.spark.views import lake_session, register_lake

__all__ = ["lake_session", "register_lake"]
