"""`shopflow validate`, `--version`, help at 80 columns, and the messages of common first mistakes."""

from __future__ import annotations

import itertools
from importlib.metadata import version
from pathlib import Path

import click
import typer
import yaml
from typer.testing import CliRunner

from shopflow.cli.main import app
from tests.cli.test_cli import shopflow
from tests.services import PostgresServer


def write(folder: Path, tables: list[dict[str, object]], **extra: object) -> Path:
    document = {"pipeline": "v", "lake": "lake", "warehouse": {"path": "warehouse.duckdb"},
                "sources": [{"name": "drop", "type": "files", "location": "data", "tables": tables}], **extra}
    path = folder / "shopflow.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def test_validate_passes_a_good_pipeline_and_moves_no_data(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("id,total\n1,10\n")
    write(tmp_path, [{"name": "orders", "files": "*.csv", "primary_key": "id"}])

    done = shopflow("validate", cwd=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "table orders: 1 file matches '*.csv', 1 not read yet" in done.stdout
    assert "All checks passed." in done.stdout
    assert not (tmp_path / "lake").exists() and not (tmp_path / "warehouse.duckdb").exists()


def test_validate_lists_each_problem_with_its_fix_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("order_id,total\n1,10\n")
    write(tmp_path, [{"name": "orders", "files": "*.csv", "primary_key": "id"},
                     {"name": "refunds", "files": "refunds/*.csv"}],
          transform={"project": "no_dbt_here"})

    done = shopflow("validate", cwd=tmp_path)

    assert done.returncode == 2, done.stdout + done.stderr
    out = " ".join(done.stdout.split())
    assert "error table orders: primary_key 'id' names no column of" in out
    assert "fix: set primary_key: of table 'orders' to one of its columns: order_id, total" in out
    assert "warning table refunds: no file matches 'refunds/*.csv'" in out
    assert "error transform:" in out and "no_dbt_here holds no dbt_project.yml" in out
    assert "2 checks failed, 1 warning." in out


def test_run_with_a_key_that_names_no_column_exits_2_then_loads_after_the_fix(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("order_id,total\n1,10\n2,20\n")
    write(tmp_path, [{"name": "orders", "files": "*.csv", "primary_key": "id"}])

    done = shopflow("run", cwd=tmp_path)

    assert done.returncode == 2, done.stdout + done.stderr
    assert "primary_key 'id' names no column of" in done.stderr and "no file was read" in done.stderr
    write(tmp_path, [{"name": "orders", "files": "*.csv", "primary_key": "order_id"}])
    done = shopflow("run", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_version() -> None:
    done = shopflow("--version", cwd=Path.cwd())
    assert (done.returncode, done.stdout.strip()) == (0, f"shopflow {version('shopflow')}")


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in sorted(group.commands.items()):
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*prefix, name)))
    return found


def test_every_help_text_reads_at_80_columns_without_a_break_mid_sentence() -> None:
    commands = _commands(typer.main.get_command(app))  # type: ignore[arg-type]
    assert ("validate",) in commands and ("rebuild",) in commands
    broken = []
    runner = CliRunner()  # in-process: the same rendering as the command, without a process per help text
    for command in [(), *commands]:
        done = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"})
        assert done.exit_code == 0, (command, done.output)
        text = done.output.split("╭")[0]  # the prose, before the option panels
        lines = [line.rstrip() for line in text.splitlines()]
        for first, second in itertools.pairwise(lines):
            # A line well short of the width while its paragraph goes on: a docstring's own line break.
            if first.strip() and second.strip() and len(first) < 55:
                broken.append(f"{' '.join(command)}: {first.strip()!r} / {second.strip()!r}")
    assert broken == []


def test_a_wrong_source_type_names_the_key_and_the_value_not_the_whole_block(tmp_path: Path) -> None:
    path = write(tmp_path, [{"name": "orders", "files": "*.csv", "primary_key": "id"}])
    document = yaml.safe_load(path.read_text())
    document["sources"][0]["type"] = "file"
    path.write_text(yaml.safe_dump(document))

    done = shopflow("validate", cwd=tmp_path)

    assert done.returncode == 2
    message = " ".join(done.stderr.split())
    assert "sources.0.type: 'file' is not a source type; did you mean 'files'? (one of: files, postgres, mysql, " \
           "sqlite)" in message
    assert "primary_key" not in message and "*.csv" not in message


def test_a_missing_postgres_warehouse_database_exits_2_with_the_createdb_fix(tmp_path: Path,
                                                                             postgres_server: PostgresServer) -> None:
    (tmp_path / "data").mkdir()
    write(tmp_path, [{"name": "orders", "files": "*.csv"}])
    path = tmp_path / "shopflow.yml"
    document = yaml.safe_load(path.read_text())
    document["warehouse"] = {"type": "postgres", "host": postgres_server.host, "port": postgres_server.port,
                             "user": postgres_server.user, "database": "no_such_warehouse_db"}
    path.write_text(yaml.safe_dump(document))

    done = shopflow("run", cwd=tmp_path)

    assert done.returncode == 2, done.stdout + done.stderr
    message = " ".join(done.stderr.split())
    assert "the PostgreSQL warehouse database 'no_such_warehouse_db' does not exist" in message
    assert f"createdb -h {postgres_server.host} -p {postgres_server.port} -U postgres no_such_warehouse_db" in message
