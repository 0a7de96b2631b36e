"""Database sources in shopflow.yml: defaults, per-table settings over `defaults:`, globs, and
errors that name the key and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from shopflow.config import load_config
from shopflow.config.database import DatabaseSource
from shopflow.errors import ConfigError


def write(folder: Path, *sources: dict[str, Any]) -> Path:
    path = folder / "shopflow.yml"
    path.write_text(yaml.safe_dump({"pipeline": "shop", "sources": list(sources)}, sort_keys=False), encoding="utf-8")
    return path


def postgres(**options: Any) -> dict[str, Any]:
    return {"name": "db", "type": "postgres", "database": "shop", **options}


def source_of(path: Path) -> DatabaseSource:
    source = load_config(path).sources[0]
    assert isinstance(source, DatabaseSource)
    return source


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


def test_a_postgres_source_reads_every_table_of_public_in_full_by_default(tmp_path: Path) -> None:
    source = source_of(write(tmp_path, postgres()))

    assert source.source_schema == "public"
    assert source.describe() == "postgres://127.0.0.1:5432/shop"
    assert source.selects("anything")
    settings = source.settings_for("anything")
    assert (settings.mode, settings.cursor, settings.reconcile, settings.write_disposition) == (
        "full", None, "off", None)


def test_a_table_entry_and_a_glob_entry_override_the_defaults(tmp_path: Path) -> None:
    source = source_of(write(tmp_path, postgres(
        defaults={"mode": "incremental", "cursor": "updated_at", "lookback": "10 minutes"},
        tables=[
            {"name": "users", "exclude_columns": "email", "primary_key": "user_id", "reconcile": "delete"},
            {"name": "log_*", "mode": "full"},
        ],
    )))

    users = source.settings_for("users")
    assert (users.mode, users.cursor, users.lookback, users.reconcile) == (
        "incremental", "updated_at", "10 minutes", "delete")
    assert users.exclude_columns == ("email",) and users.primary_key == ("user_id",)
    assert source.settings_for("log_2024").mode == "full"
    # Listing tables narrows the selection to them (and the globs among them).
    assert source.selects("users") and source.selects("log_2024") and not source.selects("orders")


def test_include_and_exclude_globs_select_tables(tmp_path: Path) -> None:
    source = source_of(write(tmp_path, postgres(include=["app_*", "ref_*"], exclude="*_tmp")))

    assert [t for t in ("app_users", "ref_country", "app_tmp", "other") if source.selects(t)] == [
        "app_users", "ref_country"]


def test_a_url_takes_a_password_from_the_environment_and_never_shows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SF_TEST_PGPASSWORD", "s3cr3t-in-url")
    source = source_of(write(tmp_path, {"name": "db", "type": "postgres",
                                        "url": "postgresql://app:${SF_TEST_PGPASSWORD}@db.internal:6432/shop"}))

    assert source.describe() == "postgres://app@db.internal:6432/shop"
    assert source.source_schema == "public"
    assert "s3cr3t-in-url" not in repr(source) + str(source) + source.model_dump_json()


def test_a_mysql_source_reads_its_database_as_the_schema(tmp_path: Path) -> None:
    source = source_of(write(tmp_path, {"name": "db", "type": "mysql", "host": "10.0.0.5", "database": "crm"}))

    assert source.source_schema == "crm"
    assert source.describe() == "mysql://10.0.0.5:3306/crm"


def test_a_relative_sqlite_path_resolves_against_the_file_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)
    source = source_of(write(folder, {"name": "local", "type": "sqlite", "path": "data/shop.db"}))

    assert source.path == str((folder / "data" / "shop.db").resolve())
    assert source.source_schema == "main"


def test_a_prefix_names_the_tables_and_keeps_two_sources_apart(tmp_path: Path) -> None:
    config = load_config(write(
        tmp_path,
        postgres(tables=[{"name": "Users"}]),
        {"name": "crm", "type": "mysql", "database": "crm", "prefix": "crm_", "tables": [{"name": "users"}]},
    ))

    names = [s.table_name(t.name) for s in config.sources if isinstance(s, DatabaseSource) for t in s.tables]
    assert names == ["users", "crm_users"]


def test_the_same_table_in_two_sources_without_a_prefix_is_refused(tmp_path: Path) -> None:
    text = error_of(write(
        tmp_path, postgres(tables=[{"name": "users"}]),
        {"name": "crm", "type": "mysql", "database": "crm", "tables": [{"name": "Users"}]},
    ))

    assert "'users' is defined twice" in text


@pytest.mark.parametrize(
    ("options", "key", "words"),
    [
        ({"tables": [{"name": "orders", "mode": "incremental"}]}, "sources.0", ["mode: incremental", "cursor:"]),
        ({"defaults": {"mode": "incremental"}}, "sources.0", ["defaults", "cursor:"]),
        ({"tables": [{"name": "t", "soft_delete": "deleted_at", "write_disposition": "append"}]}, "sources.0",
         ["soft_delete", "write_disposition: merge"]),
        ({"tables": [{"name": "t", "mode": "incremental", "cursor": "id", "write_disposition": "replace"}]},
         "sources.0", ["write_disposition: replace", "merge"]),
        ({"tables": [{"name": "t", "lookback": "ten minutes"}]}, "sources.0.tables.0.lookback",
         ["'10 minutes'"]),
        ({"tables": [{"name": "t", "reconcile": "purge"}]}, "sources.0.tables.0.reconcile", ["delete", "flag", "off"]),
        ({"tables": [{"name": "t"}, {"name": "t"}]}, "sources.0", ["listed twice"]),
        ({"prefix": "crm-"}, "sources.0.prefix", ["letters, digits and _"]),
        ({"path": "x.db"}, "sources.0", ["path applies to type: sqlite only"]),
        ({"url": "mysql://h/db"}, "sources.0", ["give url or database, not both"]),
    ],
)
def test_inconsistent_settings_name_their_key(tmp_path: Path, options: dict[str, Any], key: str,
                                              words: list[str]) -> None:
    text = error_of(write(tmp_path, postgres(**options)))

    assert f"{key}:" in text
    for word in words:
        assert word in text


def test_a_postgres_url_must_be_a_postgres_url(tmp_path: Path) -> None:
    text = error_of(write(tmp_path, {"name": "db", "type": "postgres", "url": "mysql://h/db"}))

    assert "must start with postgres://" in text


def test_sqlite_needs_a_path_and_takes_no_server_keys(tmp_path: Path) -> None:
    assert "needs path:" in error_of(write(tmp_path, {"name": "l", "type": "sqlite"}))
    assert "host do not apply to type: sqlite" in error_of(write(tmp_path, {"name": "l", "type": "sqlite",
                                                                             "path": "x.db", "host": "h"}))


@pytest.mark.parametrize(
    ("where", "typo", "suggestion"),
    [("source", "shema", "schema"), ("source", "exlude", "exclude"), ("table", "exclud_columns", "exclude_columns"),
     ("table", "soft_delet", "soft_delete"), ("defaults", "cursr", "cursor")],
)
def test_misspelt_database_keys_get_a_suggestion(tmp_path: Path, where: str, typo: str, suggestion: str) -> None:
    source = postgres(tables=[{"name": "t"}], defaults={})
    if where == "source":
        source[typo] = "x"
    elif where == "table":
        source["tables"][0][typo] = "x"
    else:
        source["defaults"][typo] = "x"

    text = error_of(write(tmp_path, source))

    assert typo in text and f"did you mean {suggestion!r}" in text


def test_an_unknown_source_type_lists_the_types(tmp_path: Path) -> None:
    text = error_of(write(tmp_path, {"name": "db", "type": "oracle", "database": "x"}))

    for kind in ("files", "postgres", "mysql", "sqlite"):
        assert kind in text
