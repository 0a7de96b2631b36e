"""Data for the example shops: the generators (`demo.generators`) and `shopflow demo` (`demo.showcase`).

The generators are deterministic and vectorized, one per seed system.

One function per dataset, each with a `seed` (same seed, same data) and a `scale` factor,
writing where the example pipelines read: a PostgreSQL or SQLite database, or files in a
folder, `s3://` or `az://` (any fsspec URL, with storage options). Each returns a `Summary`:
rows, files with their sha256, and totals (exact money sums and counts) to check a pipeline
against.

| dataset | function | writes |
|---|---|---|
| `shop` (seed 001) | `generate_shop`, `simulate_changes` | `users`, `transactions` in PostgreSQL/SQLite |
| `totesys` (seed 002) | `generate_totesys`, `scale_totesys`, `simulate_totesys` | the totesys tables in PostgreSQL |
| `glossier` (seed 000) | `generate_glossier_orders` | daily `{"orders": [...]}` JSON files |
| `online_retail` (seed 003) | `generate_online_retail` | daily Excel / hourly CSV invoice dumps |
| `customers` (seed 004) | `generate_customers` | dirty `customers_*.csv` and `transactions_*.json` |
| `orders` (benchmarks) | `generate_orders_table` | one `orders` table |

The package imports numpy and pyarrow only when a generator is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shopflow.demo.generators.core import Summary
    from shopflow.demo.generators.customers import generate_customers
    from shopflow.demo.generators.glossier import generate_glossier_orders
    from shopflow.demo.generators.orders import generate_orders_table
    from shopflow.demo.generators.retail import generate_online_retail
    from shopflow.demo.generators.shop import generate_shop
    from shopflow.demo.generators.shop_changes import HeldChanges, simulate_changes
    from shopflow.demo.generators.target import Target
    from shopflow.demo.generators.totesys import generate_totesys, scale_totesys
    from shopflow.demo.generators.totesys_changes import simulate_totesys

_EXPORTS = {
    "Summary": "core", "Target": "target", "HeldChanges": "shop_changes",
    "generate_shop": "shop", "simulate_changes": "shop_changes",
    "generate_totesys": "totesys", "scale_totesys": "totesys", "simulate_totesys": "totesys_changes",
    "generate_glossier_orders": "glossier", "generate_online_retail": "retail",
    "generate_customers": "customers", "generate_orders_table": "orders",
}

GENERATORS = {
    "shop": "generate_shop",
    "totesys": "generate_totesys",
    "glossier": "generate_glossier_orders",
    "online_retail": "generate_online_retail",
    "customers": "generate_customers",
    "orders": "generate_orders_table",
}
"""Dataset name -> the generator `generate` calls."""

__all__ = [
    "GENERATORS", "HeldChanges", "Summary", "Target", "generate", "generate_customers", "generate_glossier_orders",
    "generate_online_retail", "generate_orders_table", "generate_shop", "generate_totesys", "scale_totesys",
    "simulate_changes", "simulate_totesys",
]


def generate(dataset: str, target: str, **options: Any) -> Summary:
    """Run the generator of `dataset` (a key of `GENERATORS`) into `target`.

    Args:
        dataset: `shop`, `totesys`, `glossier`, `online_retail`, `customers` or `orders`.
        target: A database URL (shop, totesys, orders) or a folder / `s3://` / `az://` URL (files).
        options: The generator's keyword arguments, e.g. `seed`, `scale`, `days`.

    Returns:
        The generator's summary.
    """
    from shopflow.errors import ConfigError

    if dataset not in GENERATORS:
        raise ConfigError(f"unknown demo dataset {dataset!r}", fix=f"use one of: {', '.join(GENERATORS)}")
    function = __getattr__(GENERATORS[dataset])
    summary: Summary = function(target, **options)
    return summary


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"shopflow.demo.generators.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'shopflow.demo' has no attribute {name!r}")
