"""The example tests run on both warehouses: the same `target` fixture as the transform tests."""

from tests.transform.conftest import target

__all__ = ["target"]
