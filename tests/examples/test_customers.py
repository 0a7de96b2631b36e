"""The customers example (seed 004): CRM CSV + payments JSON -> cleaned, joined, with address history.

What the models give is checked against what is computed here, in plain Python, from the
example's files: the cleaning rules, the rule for each missing value, the quarantine, and the
type-2 history of addresses once the second drop moves some customers.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from shopflow.config import load_config
from shopflow.config.model import PipelineConfig
from shopflow.pipeline.run import EXIT_OK, EXIT_QUARANTINED
from shopflow.transform import run_transform
from tests.conftest import make_store
from tests.helpers import run
from tests.transform.conftest import Target

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "customers"
# The spellings the sample uses, and what they mean (the models read theirs from a dbt seed).
COUNTRIES = {
    "uk": "United Kingdom", "u.k.": "United Kingdom", "united kingdom": "United Kingdom", "gb": "United Kingdom",
    "great britain": "United Kingdom", "england": "United Kingdom", "scotland": "United Kingdom",
    "wales": "United Kingdom", "ireland": "Ireland", "eire": "Ireland", "republic of ireland": "Ireland",
    "usa": "United States", "us": "United States", "united states": "United States", "germany": "Germany",
    "deutschland": "Germany", "de": "Germany", "france": "France", "fr": "France", "spain": "Spain",
    "italy": "Italy", "netherlands": "Netherlands", "portugal": "Portugal",
}
UNKNOWN_MEMBER = -1


def clean(value: object) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None


@dataclass(frozen=True)
class Customer:
    """A CRM row after the cleaning rules."""

    customer_id: int
    email: str | None
    address: tuple[str | None, str, str | None, str]  # address, city, postcode, country
    signup_date: date | None
    updated_at: datetime


def _date(value: object) -> date | None:
    """'2023-05-14' or '21/11/2023'; None if missing or not a real day ('31/02/2023')."""
    for form in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(clean(value) or "", form).date()
        except ValueError:
            continue
    return None


def read_customers(folder: Path) -> dict[int, Customer]:
    """The latest row per customer id across the exports; rows without an id are not loaded."""
    latest: dict[int, Customer] = {}
    for path in sorted(folder.glob("customers_*.csv")):
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                key = clean(row["customer_id"])
                if key is None:
                    continue
                email = (clean(row["email"]) or "").lower()
                postcode = clean(row["postcode"])
                customer = Customer(
                    int(key),
                    email if re.fullmatch(r".+@.+\..+", email) else None,
                    (clean(row["address"]), clean(row["city"]) or "Unknown", postcode.upper() if postcode else None,
                     COUNTRIES.get((clean(row["country"]) or "").lower(), "Unknown")),
                    _date(row["signup_date"]),
                    datetime.fromisoformat(row["updated_at"]),
                )
                seen = latest.get(customer.customer_id)
                if seen is None or customer.updated_at >= seen.updated_at:
                    latest[customer.customer_id] = customer
    return latest


@dataclass(frozen=True)
class Transaction:
    """A usable transaction after the cleaning rules."""

    transaction_id: str
    at: datetime
    amount: Decimal
    currency: str
    customer_id: int
    payment_method: str
    status: str


def _timestamp(value: object) -> datetime | None:
    """An ISO timestamp ('2024-02-03T10:15:00', '2024-02-03 10:15'); None if missing or not a real time."""
    text = clean(value)
    if text is None or not re.fullmatch(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?", text):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:  # 2024-02-30
        return None


def read_transactions(folder: Path, customers: dict[int, Customer]) -> tuple[dict[str, Transaction], set[str]]:
    """Usable transactions by id (a later file's copy wins) and the ids of those to quarantine."""
    records: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("transactions_*.json")):
        for record in json.loads(path.read_text(encoding="utf-8")):
            if record.get("transaction_id") is not None:  # without one: raw._quarantine
                records[record["transaction_id"].strip()] = record
    usable: dict[str, Transaction] = {}
    quarantined: set[str] = set()
    methods = {"card": "card", "credit card": "card", "debit card": "card", "paypal": "paypal",
               "bank transfer": "bank_transfer", "bank_transfer": "bank_transfer", "cash": "cash"}
    for tid, record in records.items():
        when, amount = _timestamp(record.get("transaction_date")), clean(record.get("amount"))
        if when is None or amount is None or not re.fullmatch(r"-?\d+(\.\d{1,2})?", amount):
            quarantined.add(tid)
            continue
        customer = clean(record.get("customer_id"))
        status = (clean(record.get("status")) or "").lower()
        usable[tid] = Transaction(
            tid, when, Decimal(amount), (clean(record.get("currency")) or "GBP").upper(),
            int(customer) if customer and customer.isdigit() and int(customer) in customers else UNKNOWN_MEMBER,
            methods.get((clean(record.get("payment_method")) or "").lower(), "unknown"),
            status if status in ("completed", "pending", "refunded") else "unknown",
        )
    return usable, quarantined


def example_pipeline(target: Target, drop: Path) -> Path:
    """The example's shopflow.yml with its inputs, lake and warehouse moved to the test's."""
    config: dict[str, Any] = yaml.safe_load((EXAMPLE / "shopflow.yml").read_text(encoding="utf-8"))
    config["lake"] = str(target.folder / "lake")
    config["warehouse"] = target.warehouse()
    config["transform"]["project"] = str(EXAMPLE / "dbt")
    config["sources"][0]["location"] = str(drop / "customers")
    config["sources"][1]["location"] = str(drop / "transactions")
    path = target.folder / "shopflow.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def transform(config: PipelineConfig) -> None:
    report = run_transform(config)
    assert report.ok, [(t.name, t.status, t.message) for t in report.tests if t.status != "pass"]
    assert report.tests and all(t.status == "pass" for t in report.tests)
    assert {"one_current_row_customer_addresses_customer_id__dbt_valid_to",
            "one_current_row_dim_customer_addresses_customer_id__valid_to"} <= {t.name for t in report.tests}


def check_transactions(target: Target, drop: Path) -> dict[int, Customer]:
    """customer_transactions and the quarantine hold what the files say; returns the customers."""
    customers = read_customers(drop / "customers")
    usable, quarantined = read_transactions(drop / "transactions", customers)
    rows = target.query(
        "SELECT transaction_id, transaction_at, amount, currency, customer_id, payment_method, status "
        "FROM analytics.customer_transactions"
    )
    assert {r[0]: Transaction(*r) for r in rows} == usable
    assert {r[0] for r in target.query("SELECT transaction_id FROM analytics.transactions_quarantine")} == quarantined
    assert quarantined  # the sample holds missing and unparseable dates and amounts
    assert sum(1 for t in usable.values() if t.customer_id == UNKNOWN_MEMBER) >= 3
    totals = target.query("SELECT currency, sum(amount) FROM analytics.customer_transactions GROUP BY currency")
    expected_totals: dict[str, Decimal] = defaultdict(Decimal)
    for t in usable.values():
        expected_totals[t.currency] += t.amount
    assert dict(totals) == expected_totals

    dim = target.query(
        "SELECT customer_id, email, country, signup_date FROM analytics.dim_customers WHERE NOT is_unknown_member"
    )
    assert {r[0]: r[1:] for r in dim} == {c: (x.email, x.address[3], x.signup_date) for c, x in customers.items()}
    assert target.query("SELECT customer_id, full_name FROM analytics.dim_customers WHERE is_unknown_member") == [
        (UNKNOWN_MEMBER, "Unknown customer")
    ]
    return customers


def check_history(target: Target, before: dict[int, Customer], after: dict[int, Customer]) -> set[int]:
    """Moved customers have their old row closed and a new one open from the move; returns them."""
    moved = {c for c in before if before[c].address != after[c].address}
    assert len(moved) >= 3 and len(after) > len(before)
    assert any(before[c].updated_at != after[c].updated_at for c in set(before) - moved)  # changed, not moved
    history = target.query(
        "SELECT customer_id, city, country, valid_from, valid_to, is_current FROM analytics.dim_customer_addresses "
        "ORDER BY customer_id, valid_from"
    )
    versions: dict[int, list[tuple[Any, ...]]] = {}
    for customer_id, *rest in history:
        versions.setdefault(customer_id, []).append(tuple(rest))
    assert set(versions) == set(after)
    for customer_id, rows in versions.items():
        now = after[customer_id]
        assert [r[4] for r in rows].count(True) == 1, f"customer {customer_id} has not exactly one current row"
        assert rows[-1][:2] == (now.address[1], now.address[3]) and rows[-1][4] is True
        if customer_id in moved:
            old = before[customer_id]
            assert rows == [
                (old.address[1], old.address[3], old.updated_at, now.updated_at, False),
                (now.address[1], now.address[3], now.updated_at, None, True),
            ]
        else:
            assert len(rows) == 1 and rows[0][3] is None
    assert target.query(
        "SELECT customer_id FROM analytics.customer_addresses WHERE dbt_valid_to IS NULL "
        "GROUP BY customer_id HAVING count(*) > 1"
    ) == []
    return moved


def check_address_at_transaction_time(
    target: Target, drop: Path, before: dict[int, Customer], after: dict[int, Customer], moved: set[int]
) -> None:
    """A moved customer's transactions before the move carry the old city, later ones the new."""
    usable, _ = read_transactions(drop / "transactions", after)
    cities = dict(target.query("SELECT transaction_id, city FROM analytics.customer_transactions"))
    expected: dict[str, str] = {}
    for t in usable.values():
        if t.customer_id == UNKNOWN_MEMBER:
            expected[t.transaction_id] = "Unknown"
        elif t.customer_id in moved and t.at < after[t.customer_id].updated_at:
            expected[t.transaction_id] = before[t.customer_id].address[1]
        else:
            expected[t.transaction_id] = after[t.customer_id].address[1]
    assert cities == expected
    moved_ids = [t.transaction_id for t in usable.values() if t.customer_id in moved]
    assert {cities[i] for i in moved_ids} & {before[c].address[1] for c in moved}
    assert {cities[i] for i in moved_ids} & {after[c].address[1] for c in moved}


def check_dbt_catches_two_current_rows(target: Target, config: PipelineConfig, customer_id: int) -> None:
    """A second current row for a key, written behind dbt's back, fails the dbt tests."""
    columns = "customer_id, address, city, postcode, country, updated_at, dbt_updated_at, dbt_valid_from, dbt_valid_to"
    target.execute(
        f"INSERT INTO analytics.customer_addresses ({columns}, dbt_scd_id) "
        f"SELECT {columns}, 'duplicate' FROM analytics.customer_addresses "
        f"WHERE customer_id = {customer_id} AND dbt_valid_to IS NULL"
    )
    broken = run_transform(config, select=["dim_customer_addresses", "test_name:one_current_row"])
    assert not broken.ok
    assert {(t.name.split("_customer_id")[0], t.failures) for t in broken.tests_with("fail")} >= {
        ("one_current_row_customer_addresses", 1), ("one_current_row_dim_customer_addresses", 1)
    }


def test_drops_are_cleaned_joined_and_addresses_kept_as_type_2_history(target: Target) -> None:
    drop = target.folder / "drop"
    shutil.copytree(EXAMPLE / "data", drop)
    path = example_pipeline(target, drop)
    config = load_config(path)

    # One CRM row and one transaction without an id are quarantined at load; the rest loads.
    first = run(path)
    assert first.exit_code == EXIT_QUARANTINED and first.quarantined == 2
    reasons = target.query("SELECT \"table\", reason FROM raw._quarantine ORDER BY 1")
    assert [(t, "primary key" in r) for t, r in reasons] == [("customers", True), ("transactions", True)]
    transform(config)
    before = check_transactions(target, drop)
    unknown_country = sum(1 for c in before.values() if c.address[3] == "Unknown")
    assert target.query("SELECT count(*) FROM analytics.dim_customers WHERE country = 'Unknown' "
                        "AND NOT is_unknown_member") == [(unknown_country,)]
    assert target.query("SELECT count(*), sum(CASE WHEN is_current THEN 1 ELSE 0 END) "
                        "FROM analytics.dim_customer_addresses") == [(len(before), len(before))]

    # The second drop moves some customers, changes others without moving them, adds new ones.
    shutil.copytree(EXAMPLE / "more_data", drop, dirs_exist_ok=True)
    assert run(path).exit_code == EXIT_OK
    transform(config)
    after = check_transactions(target, drop)
    moved = check_history(target, before, after)
    check_address_at_transaction_time(target, drop, before, after, moved)
    check_dbt_catches_two_current_rows(target, config, min(moved))


def test_customers_in_s3_and_transactions_in_azure_load_into_postgres(
    tmp_path: Path, request: pytest.FixtureRequest, postgres_database: str
) -> None:
    # The seed's layout: the CRM export lands in an S3 bucket, the payments in an Azure container.
    target = Target("postgres", tmp_path, postgres_database)
    crm, payments = make_store("s3", tmp_path, request), make_store("azure", tmp_path, request)
    local = tmp_path / "drop"

    def deliver(folder: Path) -> None:
        shutil.copytree(folder, local, dirs_exist_ok=True)
        for store, kind in ((crm, "customers"), (payments, "transactions")):
            for file in sorted((folder / kind).iterdir()):
                store.put(file.name, file.read_bytes())

    path = example_pipeline(target, local)
    config_data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    config_data["sources"][0]["location"] = crm.url
    config_data["sources"][1]["location"] = payments.url
    config_data["storage"] = {**crm.storage, **payments.storage}
    path.write_text(yaml.safe_dump(config_data, sort_keys=False), encoding="utf-8")
    config = load_config(path)

    deliver(EXAMPLE / "data")
    assert run(path).exit_code == EXIT_QUARANTINED
    transform(config)
    before = check_transactions(target, local)

    deliver(EXAMPLE / "more_data")
    assert run(path).exit_code == EXIT_OK
    transform(config)
    after = check_transactions(target, local)
    check_history(target, before, after)
