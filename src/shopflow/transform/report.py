"""What a transform did: each model built, failed or skipped, and each dbt test's outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODEL_TYPES = ("model", "seed", "snapshot")
TEST_TYPES = ("test", "unit_test")
FAILED = ("error", "fail", "runtime error")


@dataclass
class ModelResult:
    """One model (or seed, snapshot).

    Attributes:
        name: The model's name.
        status: `success`, `error` or `skipped`.
        seconds: How long it took to build.
        message: The SQL error of a failed model; what it waited on for a skipped one.
    """

    name: str
    status: str
    seconds: float = 0.0
    message: str | None = None


@dataclass
class TestResult:
    """One dbt test.

    Attributes:
        name: The test's name, e.g. `unique_orders_table_transaction_id`.
        status: `pass`, `fail`, `warn`, `error` or `skipped`.
        failures: Rows that failed the test (for `fail` and `warn`).
        message: dbt's message for a failed, warned or errored test.
    """

    __test__ = False  # not a pytest test class

    name: str
    status: str
    failures: int | None = None
    message: str | None = None


@dataclass
class TransformReport:
    """What one `dbt build` of the pipeline's project did.

    Attributes:
        ok: Every model built and no test failed or errored (warnings are fine).
        models: Models, seeds and snapshots, in the order dbt finished them.
        tests: dbt tests, in the order dbt ran them.
        log_path: dbt's full log.
        seconds: Wall time of the whole step.
        selected: The dbt selectors built (empty: the whole project).
        skipped: Why nothing was built, when the models were up to date.
    """

    ok: bool
    models: list[ModelResult] = field(default_factory=list)
    tests: list[TestResult] = field(default_factory=list)
    log_path: Path = Path()
    seconds: float = 0.0
    selected: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def exit_code(self) -> int:
        """0 if ok, 1 if a model or test failed."""
        return 0 if self.ok else 1

    def count(self, status: str) -> int:
        """Models with `status`."""
        return sum(1 for m in self.models if m.status == status)

    def tests_with(self, *statuses: str) -> list[TestResult]:
        """Tests with one of `statuses`."""
        return [t for t in self.tests if t.status in statuses]


def _status(result: Any) -> str:
    status = result.status
    return str(getattr(status, "value", status))


def collect(results: list[Any]) -> tuple[list[ModelResult], list[TestResult]]:
    """Turn dbt's node results into models and tests; a skipped model names what it waited on."""
    by_id = {r.node.unique_id: r for r in results}
    failed = [r for r in results if _status(r) in FAILED]
    models: list[ModelResult] = []
    tests: list[TestResult] = []
    for result in results:
        node, status = result.node, _status(result)
        message = _tidy(result.message) if status not in ("success", "pass") else None
        if node.resource_type in MODEL_TYPES:
            if status == "skipped":
                message = _skip_reason(node.unique_id, by_id, failed)
            models.append(ModelResult(node.name, status, float(result.execution_time or 0.0), message))
        elif node.resource_type in TEST_TYPES:
            failures = result.failures if status in ("fail", "warn") else None
            tests.append(TestResult(node.name, status, None if failures is None else int(failures), message))
    return models, tests


def _skip_reason(unique_id: str, by_id: dict[str, Any], failed: list[Any]) -> str:
    """Name the failed upstream nodes: a failed ancestor model, or a failed (unit) test of it or an ancestor."""
    ancestors: set[str] = set()
    pending = list(_parents(by_id.get(unique_id)))
    while pending:
        parent = pending.pop()
        if parent not in ancestors:
            ancestors.add(parent)
            pending.extend(_parents(by_id.get(parent)))
    blamed = [
        f"{f.node.resource_type} {f.node.name}"
        for f in failed
        if f.node.unique_id in ancestors
        or (f.node.resource_type in TEST_TYPES and {unique_id, *ancestors}.intersection(_parents(f)))
    ]
    return "skipped: upstream " + ", ".join(blamed) + " failed" if blamed else "skipped"


def _tidy(message: object) -> str | None:
    if message is None:
        return None
    return "\n".join(line.rstrip() for line in str(message).strip().splitlines() if line.strip())


def _parents(result: Any) -> list[str]:
    if result is None:
        return []
    return list(getattr(result.node.depends_on, "nodes", []) or [])
