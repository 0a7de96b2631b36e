"""dashboard.yml: every example's file is valid, and a wrong one says which key is wrong and how to fix it."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopflow.config.dashboard import bind_sql, load_dashboard, sql_parameters
from shopflow.errors import ConfigError
from tests.serve.dashboard.conftest import PIPELINES

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

GOOD = """\
title: Shop
filters:
  date: {label: Day, bounds: "SELECT min(d), max(d) FROM t"}
pages:
  - name: overview
    title: Overview
    charts:
      - {title: Orders, type: kpi, sql: "SELECT count(*) FROM t WHERE d BETWEEN :date_from AND :date_to"}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dashboard.yml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_dashboard(write(tmp_path, text))
    assert caught.value.exit_code == 2
    return str(caught.value)


@pytest.mark.parametrize("name", PIPELINES)
def test_every_example_ships_a_valid_dashboard(name: str) -> None:
    dashboard = load_dashboard(EXAMPLES / name / "dashboard.yml")
    charts = [c for p in dashboard.pages for c in p.charts]
    assert len(dashboard.pages) >= 2 or name == "shop_db"
    assert {c.type for c in charts} >= {"kpi", "bar"}
    # Every page can be filtered by date, and the first by the dimension too.
    assert all({"date_from", "date_to"} & p.parameters for p in dashboard.pages if p.name != "users"), name
    assert "dimension" in dashboard.pages[0].parameters


def test_a_good_file_loads(tmp_path: Path) -> None:
    dashboard = load_dashboard(write(tmp_path, GOOD))
    assert dashboard.pages[0].charts[0].parameters == {"date_from", "date_to"}


def test_a_misspelt_key_is_named_with_the_key_it_should_be(tmp_path: Path) -> None:
    message = error_of(tmp_path, GOOD.replace("type: kpi", "type: kpi, titel: x"))
    assert "pages.0 ('overview').charts.0 ('Orders').titel: unknown key; did you mean 'title'?" in message


def test_an_unknown_chart_type_lists_the_known_ones(tmp_path: Path) -> None:
    message = error_of(tmp_path, GOOD.replace("type: kpi", "type: pie"))
    assert "charts.0 ('Orders').type" in message and "'line', 'bar', 'table' or 'kpi'" in message


def test_an_unknown_parameter_is_named(tmp_path: Path) -> None:
    message = error_of(tmp_path, GOOD.replace(":date_to", ":date_until"))
    assert "unknown parameter :date_until; the parameters are :date_from, :date_to, :dimension" in message


def test_a_positional_parameter_is_refused(tmp_path: Path) -> None:
    assert "not ?" in error_of(tmp_path, GOOD.replace(":date_to", "?"))


def test_the_dimension_needs_its_filter(tmp_path: Path) -> None:
    message = error_of(tmp_path, GOOD.replace("BETWEEN :date_from AND :date_to", "= :dimension"))
    assert "chart 'Orders' on page 'overview' uses :dimension, which needs filters.dimension" in message


def test_plot_keys_on_a_kpi_and_the_health_page_name_are_refused(tmp_path: Path) -> None:
    with_x = GOOD.replace("type: kpi", "type: kpi, x: d")
    assert "x apply to line and bar charts, not to a kpi" in error_of(tmp_path, with_x)
    assert "taken by the pipeline health page" in error_of(tmp_path, GOOD.replace("name: overview", "name: health"))
    assert "defined twice" in error_of(tmp_path, GOOD + GOOD[GOOD.index("  - name"):])


def test_a_missing_file_and_bad_yaml_say_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"dashboard file .* not found"):
        load_dashboard(tmp_path / "nope.yml")
    assert "is not valid YAML" in error_of(tmp_path, "title: [")


def test_parameters_are_bound_typed_and_literals_casts_and_comments_are_left_alone() -> None:
    sql = ("SELECT ':date_from', x::date -- :dimension\n"
           "FROM t WHERE d >= :date_from AND c = :dimension AND e <= :date_from")
    assert sql_parameters(sql) == ["date_from", "dimension", "date_from"]
    assert bind_sql(sql) == (
        "SELECT ':date_from', x::date -- :dimension\nFROM t WHERE d >= CAST(? AS DATE) AND c = CAST(? AS VARCHAR) "
        "AND e <= CAST(? AS DATE)"
    )
