"""Unit tests of the schema drift rules: what is added, widened in place, or refused."""

from __future__ import annotations

import pytest

from shopflow.warehouse.drift import DriftPlan, holds, plan_drift


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("BIGINT", "BIGINT"),
        ("BIGINT", "INTEGER"),
        ("BIGINT", "SMALLINT"),
        ("INTEGER", "TINYINT"),
        ("HUGEINT", "BIGINT"),
        ("DECIMAL(38,0)", "BIGINT"),
        ("DECIMAL(12,2)", "INTEGER"),
        ("DECIMAL(12,2)", "DECIMAL(10,2)"),
        ("DECIMAL(12,3)", "DECIMAL(10,2)"),
        ("VARCHAR", "VARCHAR(10)"),
        ("VARCHAR(20)", "VARCHAR(10)"),
        ("VARCHAR", "BIGINT"),
        ("VARCHAR", "DATE"),
        ("DOUBLE", "FLOAT"),
        ("DOUBLE", "INTEGER"),
        ("TIMESTAMP", "DATE"),
        ("TIMESTAMP WITH TIME ZONE", "DATE"),
        ("BOOLEAN", "NULL"),
        ("bigint", "integer"),
        ("decimal(12, 2)", "DECIMAL(12,2)"),
        ("NUMERIC(12,2)", "DECIMAL(10,2)"),
        ("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"),
        ("INT8", "INT4"),
        ("FLOAT8", "FLOAT4"),
        ("CHARACTER VARYING", "TEXT"),
        ("TEXT", "STRING"),
    ],
)
def test_holds(column: str, value: str) -> None:
    assert holds(column, value)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("INTEGER", "BIGINT"),
        ("SMALLINT", "INTEGER"),
        ("BIGINT", "DECIMAL(38,0)"),
        ("BIGINT", "DOUBLE"),
        ("BIGINT", "VARCHAR"),
        ("DECIMAL(10,2)", "DECIMAL(12,2)"),
        ("DECIMAL(12,2)", "DECIMAL(12,3)"),
        ("DECIMAL(18,0)", "BIGINT"),
        ("DECIMAL(12,2)", "DOUBLE"),
        ("VARCHAR(10)", "VARCHAR(20)"),
        ("VARCHAR(10)", "VARCHAR"),
        ("VARCHAR(10)", "BIGINT"),
        ("FLOAT", "DOUBLE"),
        ("FLOAT", "INTEGER"),
        ("DATE", "TIMESTAMP"),
        ("TIMESTAMP", "VARCHAR"),
        ("BOOLEAN", "BIGINT"),
        ("BIGINT", "BOOLEAN"),
        ("DATE", "TIME"),
        ("UUID", "VARCHAR"),
        ("JSON", "VARCHAR"),
    ],
)
def test_does_not_hold(column: str, value: str) -> None:
    assert not holds(column, value)


def test_no_change_plans_nothing() -> None:
    assert plan_drift({"id": "BIGINT", "name": "VARCHAR"}, {"id": "BIGINT", "name": "VARCHAR"}) == DriftPlan()


def test_new_columns_are_added_in_incoming_order() -> None:
    plan = plan_drift({"id": "BIGINT"}, {"id": "BIGINT", "b": "VARCHAR", "a": "DECIMAL(12,2)"})
    assert plan.add == [("b", "VARCHAR"), ("a", "DECIMAL(12,2)")]
    assert plan.widen == [] and plan.incompatible == []


def test_a_column_missing_from_incoming_is_left_alone() -> None:
    assert plan_drift({"id": "BIGINT", "gone": "VARCHAR"}, {"id": "BIGINT"}) == DriftPlan()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("INTEGER", "BIGINT"),
        ("BIGINT", "DECIMAL(38,0)"),
        ("DECIMAL(10,2)", "DECIMAL(12,2)"),
        ("DECIMAL(10,2)", "DECIMAL(12,4)"),
        ("VARCHAR(10)", "VARCHAR(20)"),
        ("VARCHAR(10)", "VARCHAR"),
        ("FLOAT", "DOUBLE"),
        ("DATE", "TIMESTAMP"),
        ("SMALLINT", "INTEGER"),
    ],
)
def test_a_wider_type_widens(old: str, new: str) -> None:
    plan = plan_drift({"x": old}, {"x": new})
    assert plan.widen == [("x", old, new)]
    assert plan.add == [] and plan.incompatible == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("BIGINT", "INTEGER"),
        ("DECIMAL(38,0)", "BIGINT"),
        ("DECIMAL(12,2)", "DECIMAL(10,2)"),
        ("VARCHAR", "BIGINT"),
        ("VARCHAR", "TIMESTAMP"),
        ("TIMESTAMP", "DATE"),
        ("DOUBLE", "FLOAT"),
    ],
)
def test_data_the_column_already_holds_changes_nothing(old: str, new: str) -> None:
    assert plan_drift({"x": old}, {"x": new}) == DriftPlan()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("BIGINT", "VARCHAR"),
        ("INTEGER", "VARCHAR"),
        ("DECIMAL(12,2)", "VARCHAR"),
        ("DATE", "VARCHAR"),
        ("BOOLEAN", "VARCHAR"),
        ("TIMESTAMP", "VARCHAR"),
        ("BIGINT", "BOOLEAN"),
        ("BOOLEAN", "BIGINT"),
        ("DECIMAL(10,2)", "DECIMAL(10,3)"),
        ("DECIMAL(12,2)", "DOUBLE"),
        ("DATE", "TIME"),
        ("UUID", "BIGINT"),
    ],
)
def test_an_incompatible_change_is_refused(old: str, new: str) -> None:
    plan = plan_drift({"x": old}, {"x": new})
    assert plan.incompatible == [("x", old, new)]
    assert plan.widen == [] and plan.add == []


def test_a_mixed_plan() -> None:
    plan = plan_drift(
        {"id": "INTEGER", "price": "DECIMAL(10,2)", "qty": "BIGINT", "name": "VARCHAR"},
        {"id": "BIGINT", "price": "DECIMAL(10,2)", "qty": "VARCHAR", "name": "VARCHAR", "note": "VARCHAR"},
    )
    assert plan.add == [("note", "VARCHAR")]
    assert plan.widen == [("id", "INTEGER", "BIGINT")]
    assert plan.incompatible == [("qty", "BIGINT", "VARCHAR")]


# ---------------------------------------------------------------- PostgreSQL's spellings (format_type)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("numeric(12,2)", "numeric(10,2)"),
        ("numeric(38,0)", "bigint"),
        ("numeric", "numeric(38,18)"),
        ("numeric", "bigint"),
        ("timestamp with time zone", "date"),
        ("timestamp without time zone", "date"),
        ("timestamp without time zone", "TIMESTAMP"),
        ("time without time zone", "TIME"),
        ("double precision", "real"),
        ("double precision", "integer"),
        ("DOUBLE", "double precision"),
        ("real", "smallint"),
        ("character varying(20)", "character varying(10)"),
        ("text", "character varying(10)"),
        ("text", "bigint"),
        ("text", "timestamp with time zone"),
        ("bigint", "smallint"),
        ("jsonb", "jsonb"),
        ("bytea", "BLOB"),
    ],
)
def test_holds_postgres_names(column: str, value: str) -> None:
    assert holds(column, value)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("numeric(12,2)", "numeric"),
        ("numeric(10,2)", "numeric(12,2)"),
        ("numeric", "double precision"),
        ("bigint", "numeric(20,0)"),
        ("timestamp without time zone", "timestamp with time zone"),
        ("timestamp with time zone", "timestamp without time zone"),
        ("real", "double precision"),
        ("real", "integer"),
        ("character varying(10)", "text"),
        ("jsonb", "text"),
        ("text", "jsonb"),
        ("boolean", "bigint"),
    ],
)
def test_does_not_hold_postgres_names(column: str, value: str) -> None:
    assert not holds(column, value)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("integer", "bigint"),
        ("numeric(10,2)", "numeric(12,2)"),
        ("bigint", "numeric(38,0)"),
        ("numeric(12,2)", "numeric"),
        ("character varying(10)", "text"),
        ("date", "timestamp with time zone"),
        ("real", "double precision"),
        ("integer", "double precision"),
    ],
)
def test_a_wider_postgres_type_widens(old: str, new: str) -> None:
    assert plan_drift({"x": old}, {"x": new}).widen == [("x", old, new)]


# ---------------------------------------------------------------- floats and whole numbers


@pytest.mark.parametrize(("old", "new"), [("BIGINT", "DOUBLE"), ("DOUBLE", "BIGINT"), ("bigint", "double precision"),
                                          ("double precision", "bigint"), ("HUGEINT", "DOUBLE"), ("FLOAT", "INTEGER")])
def test_whole_numbers_a_float_would_round_are_incompatible(old: str, new: str) -> None:
    # 2^53 + 1 is a BIGINT no DOUBLE holds: neither type can take the other's values unchanged
    assert not holds(old, new) and not holds(new, old)
    assert plan_drift({"x": old}, {"x": new}).incompatible == [("x", old, new)]


@pytest.mark.parametrize("small", ["TINYINT", "SMALLINT", "INTEGER"])
def test_a_double_holds_the_integers_it_stores_exactly(small: str) -> None:
    assert holds("DOUBLE", small)
    assert plan_drift({"x": small}, {"x": "DOUBLE"}).widen == [("x", small, "DOUBLE")]
