"""load_config: defaults, interpolation, and errors that name the file, the key and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from shopflow.config import load_config
from shopflow.errors import ConfigError

TABLE = {"name": "orders", "files": "*.json"}


def write(folder: Path, config: dict[str, Any] | str, name: str = "shopflow.yml") -> Path:
    path = folder / name
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def minimal(**table: Any) -> dict[str, Any]:
    return {
        "pipeline": "shop",
        "sources": [{"name": "drop", "type": "files", "location": "data", "tables": [{**TABLE, **table}]}],
    }


def error_of(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.exit_code == 2
    return caught.value


def test_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, minimal()))
    table = config.sources[0].tables[0]
    assert config.pipeline == "shop"
    assert config.lake == str((tmp_path / ".shopflow/lake").resolve())
    assert config.warehouse.type == "duckdb"
    assert config.warehouse.path == str((tmp_path / ".shopflow/warehouse.duckdb").resolve())
    assert config.storage.s3.secret_access_key is None
    assert config.sources[0].type == "files"
    assert table.write_disposition == "append"
    assert table.primary_key == []
    assert table.cursor is None and table.delete_column is None
    assert table.on_file_change == "replace"
    assert table.nested.lists == "table" and table.nested.objects == "flatten"
    assert table.csv.delimiter == "," and table.csv.header is True


def test_shorthands(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, minimal(
        primary_key="id", write_disposition="merge", columns={"total": "decimal(12,2)", "qty": {"type": "bigint"}}
    )))
    table = config.sources[0].tables[0]
    assert table.primary_key == ["id"]
    assert table.columns["total"].type == "decimal(12,2)" and table.columns["total"].round is False
    assert table.columns["qty"].type == "bigint"


def test_variables_are_interpolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SF_TEST_WAREHOUSE", "/srv/wh.duckdb")
    monkeypatch.setenv("SF_TEST_TABLE", "orders_v2")
    monkeypatch.delenv("SF_TEST_UNSET", raising=False)
    config = minimal()
    config["warehouse"] = {"path": "${SF_TEST_WAREHOUSE}"}
    config["lake"] = "${SF_TEST_UNSET:-/srv/lake}"
    config["sources"][0]["tables"][0]["name"] = "${SF_TEST_TABLE}"
    config["sources"][0]["tables"][0]["files"] = "${SF_TEST_UNSET:-orders}/*.${SF_TEST_UNSET:-json}"
    loaded = load_config(write(tmp_path, config))
    assert loaded.warehouse.path == "/srv/wh.duckdb"
    assert loaded.lake == "/srv/lake"
    assert loaded.sources[0].tables[0].name == "orders_v2"
    assert loaded.sources[0].tables[0].files == "orders/*.json"


def test_a_set_variable_beats_its_default_and_an_empty_default_is_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SF_TEST_LAKE", "/from/env")
    monkeypatch.delenv("SF_TEST_ENDPOINT", raising=False)
    config = minimal()
    config["lake"] = "${SF_TEST_LAKE:-/default}"
    config["storage"] = {"s3": {"endpoint_url": "${SF_TEST_ENDPOINT:-}"}}
    loaded = load_config(write(tmp_path, config))
    assert loaded.lake == "/from/env"
    assert loaded.storage.s3.endpoint_url == ""


def test_a_variable_holding_yaml_syntax_stays_one_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SF_TEST_SECRET", 'a: b, "c"\n- d')
    config = minimal()
    config["storage"] = {"s3": {"secret_access_key": "${SF_TEST_SECRET}"}}
    loaded = load_config(write(tmp_path, config))
    assert loaded.storage.s3.secret_access_key is not None
    assert loaded.storage.s3.secret_access_key.get_secret_value() == 'a: b, "c"\n- d'


def test_a_missing_variable_names_the_variable_and_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SF_TEST_MISSING", raising=False)
    config = minimal()
    config["warehouse"] = {"path": "${SF_TEST_MISSING}"}
    path = write(tmp_path, config)
    error = error_of(path)
    text = str(error)
    assert "SF_TEST_MISSING" in error.message
    assert error.context.get("key") == "warehouse.path"
    assert str(path) in text
    assert "warehouse.path" in text
    assert error.fix and "SF_TEST_MISSING" in error.fix


def test_a_missing_variable_in_a_list_names_its_position(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SF_TEST_MISSING", raising=False)
    path = write(tmp_path, minimal(primary_key=["id", "${SF_TEST_MISSING}"]))
    error = error_of(path)
    assert "SF_TEST_MISSING" in str(error)
    assert "sources[0].tables[0].primary_key[1]" in str(error)


def test_an_unknown_key_names_file_key_and_suggestion(tmp_path: Path) -> None:
    config = minimal()
    config["sources"][0]["tables"][0]["primay_key"] = "id"
    path = write(tmp_path, config)
    text = str(error_of(path))
    assert str(path) in text
    assert "sources.0.tables.0.primay_key" in text
    assert "unknown key" in text
    assert "'primary_key'" in text
    assert "fix:" in text


@pytest.mark.parametrize(
    ("where", "typo", "suggestion"),
    [
        ("top", "warehous", "warehouse"),
        ("warehouse", "pth", "path"),
        ("source", "locaton", "location"),
        ("csv", "delimeter", "delimiter"),
    ],
)
def test_unknown_keys_at_every_level_get_a_suggestion(tmp_path: Path, where: str, typo: str, suggestion: str) -> None:
    config = minimal()
    if where == "top":
        config[typo] = {"path": "x"}
    elif where == "warehouse":
        config["warehouse"] = {typo: "x"}
    elif where == "source":
        config["sources"][0][typo] = "x"
    else:
        config["sources"][0]["tables"][0]["csv"] = {typo: ";"}
    text = str(error_of(write(tmp_path, config)))
    assert typo in text
    assert f"did you mean {suggestion!r}" in text


def test_an_unknown_key_without_a_close_match_lists_the_valid_ones(tmp_path: Path) -> None:
    config = minimal()
    config["warehouse"] = {"zzzzzz": 1}
    text = str(error_of(write(tmp_path, config)))
    assert "zzzzzz" in text
    assert "valid keys here" in text and "path" in text


def test_a_wrong_write_disposition_names_the_key_and_choices(tmp_path: Path) -> None:
    text = str(error_of(write(tmp_path, minimal(write_disposition="upsert"))))
    assert "write_disposition" in text
    assert "upsert" in text
    assert "append" in text and "replace" in text and "merge" in text
    assert "fix:" in text


def test_an_unknown_column_type_names_the_key_and_the_known_types(tmp_path: Path) -> None:
    text = str(error_of(write(tmp_path, minimal(columns={"total": "money"}))))
    assert "columns.total" in text
    assert "money" in text
    assert "decimal(p,s)" in text and "bigint" in text


def test_merge_without_primary_key_says_to_add_one(tmp_path: Path) -> None:
    text = str(error_of(write(tmp_path, minimal(write_disposition="merge"))))
    assert "sources.0.tables.0" in text
    assert "merge" in text and "primary_key" in text


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"name": "bad name"}, "name"),
        ({"format": "xml"}, "format"),
        ({"on_file_change": "ignore"}, "on_file_change"),
        ({"nested": {"lists": "explode"}}, "nested.lists"),
        ({"primary_key": 5}, "primary_key"),
    ],
)
def test_wrong_values_name_their_key(tmp_path: Path, table: dict[str, Any], key: str) -> None:
    text = str(error_of(write(tmp_path, minimal(**table))))
    assert f"tables.0.{key}" in text


def test_a_missing_required_key_is_named(tmp_path: Path) -> None:
    config = minimal()
    del config["sources"][0]["tables"][0]["files"]
    text = str(error_of(write(tmp_path, config)))
    assert "sources.0.tables.0.files" in text
    assert "required" in text


def test_a_source_without_type_names_the_key(tmp_path: Path) -> None:
    config = minimal()
    del config["sources"][0]["type"]
    text = str(error_of(write(tmp_path, config)))
    assert "sources.0.type" in text
    assert "files" in text


def test_a_duplicate_table_name_is_refused(tmp_path: Path) -> None:
    config = minimal()
    config["sources"].append({"name": "other", "type": "files", "location": "x", "tables": [dict(TABLE)]})
    text = str(error_of(write(tmp_path, config)))
    assert "'orders'" in text and "twice" in text


def test_a_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    error = error_of(tmp_path / "nope.yml")
    assert "nope.yml" in error.message
    assert error.fix and "shopflow init" in error.fix


def test_invalid_yaml_is_a_config_error(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, "pipeline: [unclosed\n"))
    assert "YAML" in error.message


def test_a_non_mapping_is_a_config_error(tmp_path: Path) -> None:
    error_of(write(tmp_path, "- just\n- a list\n"))


def test_relative_paths_resolve_against_the_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "project" / "conf"
    folder.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = minimal()
    config["lake"] = "../lake"
    config["warehouse"] = {"path": "wh/warehouse.duckdb"}
    config["sources"][0]["location"] = "./data"
    config["sources"].append({"name": "bucket", "type": "files", "location": "s3://bucket/prefix",
                              "tables": [{**TABLE, "name": "b"}]})
    config["sources"].append({"name": "absolute", "type": "files", "location": str(tmp_path / "abs"),
                              "tables": [{**TABLE, "name": "c"}]})
    write(folder, config)
    loaded = load_config(Path("..") / "project" / "conf" / "shopflow.yml")
    base = folder.resolve()
    assert loaded.lake == str(base.parent / "lake")
    assert loaded.warehouse.path == str(base / "wh" / "warehouse.duckdb")
    assert loaded.sources[0].location == str(base / "data")
    assert loaded.sources[1].location == "s3://bucket/prefix"
    assert loaded.sources[2].location == str(tmp_path / "abs")


def test_secrets_never_show_in_repr_or_str(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SF_TEST_S3_SECRET", "s3-very-secret-value")
    monkeypatch.setenv("SF_TEST_AZ", "DefaultEndpointsProtocol=https;AccountKey=az-very-secret-value")
    config = minimal()
    config["storage"] = {
        "s3": {"access_key_id": "AKIAEXAMPLE", "secret_access_key": "${SF_TEST_S3_SECRET}"},
        "azure": {"connection_string": "${SF_TEST_AZ}", "account_key": "az-key-secret-value"},
    }
    loaded = load_config(write(tmp_path, config))
    shown = " ".join([repr(loaded), str(loaded), repr(loaded.storage), str(loaded.storage.s3),
                      repr(loaded.storage.azure), loaded.model_dump_json()])
    for secret in ("s3-very-secret-value", "az-very-secret-value", "az-key-secret-value"):
        assert secret not in shown
    assert loaded.storage.s3.secret_access_key is not None
    assert loaded.storage.s3.secret_access_key.get_secret_value() == "s3-very-secret-value"
    assert loaded.storage.azure.account_key is not None
    assert loaded.storage.azure.account_key.get_secret_value() == "az-key-secret-value"


def test_config_error_text_shows_the_fix() -> None:
    error = ConfigError("bad thing", fix="do this", file="a.yml", key="x.y")
    assert str(error) == "bad thing (file=a.yml, key=x.y)\n  fix: do this"


def test_a_date_format_is_kept_on_its_column(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, minimal(columns={"at": {"type": "timestamp", "format": "%m/%d/%Y %H:%M"}})))
    spec = config.sources[0].tables[0].columns["at"]
    assert (spec.type, spec.format) == ("timestamp", "%m/%d/%Y %H:%M")


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        ({"type": "text", "format": "%d/%m/%Y"}, ["date, timestamp and timestamptz", "'text'"]),
        ({"type": "decimal(10,2)", "format": "%d/%m/%Y"}, ["date, timestamp and timestamptz"]),
        ({"type": "date", "format": "day/month"}, ["no % directive", "%m/%d/%Y"]),
        ({"type": "date", "format": "%d/%Q/%Y"}, ["not a strptime format", "%Q"]),
    ],
)
def test_a_wrong_date_format_names_the_column(tmp_path: Path, spec: dict[str, str], fragments: list[str]) -> None:
    text = str(error_of(write(tmp_path, minimal(columns={"shipped": spec}))))
    assert "sources.0.tables.0.columns.shipped" in text
    assert "fix:" in text
    for fragment in fragments:
        assert fragment in text
