"""Seed 004's dirty customer exports (CSV) and transaction exports (JSON), on a folder, S3 and Azure."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from shopflow.demo import generate_customers
from shopflow.demo.generators.customers import COLUMNS, NULLABLE
from tests.conftest import make_store


def read_csv(path: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8"))))


def test_customers_have_the_promised_share_of_missing_values(tmp_path: Path) -> None:
    summary = generate_customers(str(tmp_path), customers=8_000, seed=1, missing=0.08, missing_ids=0.01)

    rows = read_csv(summary.files[0])
    assert list(rows[0]) == list(COLUMNS)
    assert len(rows) == 8_000 == summary.rows["customers"]
    for column in NULLABLE:
        missing = sum(1 for r in rows if not r[column].strip())
        assert missing == summary.totals[f"customers.missing.{column}"]
        assert 0.07 < missing / len(rows) < 0.09, column
    assert sum(1 for r in rows if not r["customer_id"]) == summary.totals["customers.missing.customer_id"]
    # Missing comes both as empty fields and as blank whitespace.
    assert any(r["email"] == "" for r in rows) and any(r["email"] and not r["email"].strip() for r in rows)
    assert all(r["updated_at"] for r in rows)


def test_values_are_dirty_the_ways_the_models_clean(tmp_path: Path) -> None:
    rows = read_csv(generate_customers(str(tmp_path), customers=5_000, seed=2, dirty=0.1).files[0])

    emails = [r["email"] for r in rows if r["email"].strip()]
    assert any(e != e.lower() for e in emails) and any(e != e.strip() for e in emails)
    assert any("(at)" in e for e in emails)
    countries = {r["country"] for r in rows}
    assert {"United Kingdom", "UK", "U.K.", "England", "Great Britain"} <= countries
    assert any(r["first_name"] != r["first_name"].strip() and r["first_name"].strip() for r in rows)
    dates = [r["signup_date"] for r in rows if r["signup_date"].strip()]
    assert any("/" in d for d in dates) and any(d.startswith("31/02/") for d in dates)
    assert any(r["postcode"].strip() and r["postcode"] != r["postcode"].upper() for r in rows)


def test_later_exports_hold_new_and_changed_customers_and_resent_transactions(tmp_path: Path) -> None:
    summary = generate_customers(str(tmp_path / "crm"), customers=3_000, exports=3, seed=3, dirty=0.0,
                                 missing=0.0, missing_ids=0.0, transactions_target=str(tmp_path / "pay"))

    names = [Path(f).name for f in summary.files]
    assert names == ["customers_2024-03-01.csv", "transactions_2024-03-01.json", "customers_2024-03-31.csv",
                     "transactions_2024-03-31.json", "customers_2024-04-30.csv", "transactions_2024-04-30.json"]
    first, second = read_csv(summary.files[0]), read_csv(summary.files[2])
    first_by_id = {r["customer_id"]: r for r in first}
    moved = [r for r in second if r["customer_id"] in first_by_id]
    assert moved and len(moved) < len(second)
    assert all(r["first_name"] == first_by_id[r["customer_id"]]["first_name"] for r in moved)
    assert all(r["address"] != first_by_id[r["customer_id"]]["address"] for r in moved)
    assert all(r["updated_at"] > first_by_id[r["customer_id"]]["updated_at"] for r in moved)
    ids = {int(r["customer_id"]) for f in summary.files[0::2] for r in read_csv(f)}
    assert ids == set(range(1001, 4001))

    before = {t["transaction_id"]: t for t in json.loads(Path(summary.files[1]).read_text())}
    after = json.loads(Path(summary.files[3]).read_text())
    resent = [t for t in after if t["transaction_id"] in before]
    assert 0 < len(resent) < summary.totals["transactions.resent"]  # the rest are resent in the third export
    assert all(before[t["transaction_id"]]["status"] == "pending" and t["status"] == "completed" for t in resent)


def test_transactions_are_a_json_array_with_dirty_records(tmp_path: Path) -> None:
    summary = generate_customers(str(tmp_path), customers=2_000, seed=4, dirty=0.1)

    text = Path(summary.files[1]).read_text()
    records = json.loads(text)
    assert text.startswith("[\n{") and len(text.splitlines()) == len(records) + 2  # one record per line
    assert len(records) == summary.rows["transactions"]
    assert sum(1 for r in records if "transaction_id" not in r) == summary.totals["transactions.missing_transaction_id"]
    assert any(isinstance(r.get("customer_id"), str) for r in records)
    assert any(r.get("amount") == "N/A" for r in records) and any(r.get("amount") is None for r in records)
    assert any("transaction_date" not in r for r in records)
    assert any(str(r.get("transaction_date", "")).startswith("20") and " " in str(r.get("transaction_date"))
               for r in records)
    numeric = [r["amount"] for r in records if isinstance(r.get("amount"), (int, float))
               and len(str(r["amount"]).split(".")[-1]) <= 2]
    assert sum(Decimal(str(a)) for a in numeric) == summary.totals["transactions.amount"]
    assert any(r.get("status") == "refunded" and isinstance(r.get("amount"), float) and r["amount"] < 0
               for r in records)


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    one = generate_customers(str(tmp_path / "a"), customers=500, exports=2, seed=6)
    two = generate_customers(str(tmp_path / "b"), customers=500, exports=2, seed=6)
    other = generate_customers(str(tmp_path / "c"), customers=500, exports=2, seed=7)

    assert list(one.checksums.values()) == list(two.checksums.values())
    assert all(a != b for a, b in zip(one.checksums.values(), other.checksums.values(), strict=True))


def test_customers_to_s3_and_transactions_to_azure(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    s3, azure = make_store("s3", tmp_path, request), make_store("azure", tmp_path, request)
    local = generate_customers(str(tmp_path / "local"), customers=400, seed=8)

    summary = generate_customers(s3.url, customers=400, seed=8, storage=s3.storage,
                                 transactions_target=azure.url, transactions_storage=azure.storage)

    assert summary.files == [f"{s3.url}/customers_2024-03-01.csv", f"{azure.url}/transactions_2024-03-01.json"]
    assert list(summary.checksums.values()) == list(local.checksums.values())
    bucket, _, prefix = s3.url.split("://", 1)[1].partition("/")
    assert s3._s3 is not None and azure._azure is not None
    csv_body = s3._s3.client().get_object(Bucket=bucket, Key=f"{prefix}/customers_2024-03-01.csv")["Body"].read()
    container, _, folder = azure.url.split("://", 1)[1].partition("/")
    json_body = azure._azure.container_client(container).download_blob(
        f"{folder}/transactions_2024-03-01.json").readall()
    assert csv_body == Path(local.files[0]).read_bytes()
    assert json_body == Path(local.files[1]).read_bytes()
