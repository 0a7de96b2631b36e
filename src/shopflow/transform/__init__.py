"""The transform step: the pipeline's dbt project, run in-process on the pipeline's warehouse."""

from shopflow.transform.changes import changed_tables, transform_changed
from shopflow.transform.report import ModelResult, TestResult, TransformReport
from shopflow.transform.runner import run_transform

__all__ = ["ModelResult", "TestResult", "TransformReport", "changed_tables", "run_transform", "transform_changed"]
