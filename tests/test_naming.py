"""Names as analysts see them in the lake and the warehouse."""

from __future__ import annotations

import pytest

from shopflow.naming import lake_name, normalize_name, singular


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("InvoiceNo", "invoice_no"),
        ("Customer ID", "customer_id"),
        ("2nd", "_2nd"),
        ("_private", "private"),
        ("HTTPStatus", "http_status"),
        # shopflow's own columns keep their name, so a config can use them as cursor or delete flag
        ("_sf_change_seq", "_sf_change_seq"),
        ("_sf_deleted", "_sf_deleted"),
    ],
)
def test_normalize_name(source: str, expected: str) -> None:
    assert normalize_name(source) == expected


@pytest.mark.parametrize(("plural", "one"), [("orders", "order"), ("addresses", "address"), ("categories", "category")])
def test_singular(plural: str, one: str) -> None:
    assert singular(plural) == one


@pytest.mark.parametrize(
    ("source", "expected"),
    [("_sf_batch", "src_sf_batch"), ("_sf_anything", "src_sf_anything"), ("src_sf_batch", "src_sf_batch"),
     ("_SF_Batch", "sf_batch"), ("Order ID", "order_id")],
)
def test_lake_name_never_takes_a_shopflow_name(source: str, expected: str) -> None:
    assert lake_name(source) == expected
