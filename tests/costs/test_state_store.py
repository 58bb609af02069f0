"""The state file: WAL, a versioned schema migrated on open, and clear errors for files that are not ours."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

import exporters.costs.state
from exporters.cli import app
from exporters.costs.records import CostRecord
from exporters.costs.state.ledger import PersistentLedger
from exporters.costs.state.store import (
    APPLICATION_ID,
    MIGRATIONS,
    SCHEMA_VERSION,
    StateStore,
    StateStoreError,
    StoredInterval,
)

TESTDATA = Path(exporters.costs.state.__file__).parent / "testdata"


def test_a_new_file_uses_wal_and_the_current_schema(tmp_path):
    store = StateStore.in_directory(tmp_path / "data")
    assert store.journal_mode == "wal"
    assert store.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
    store.close()
    raw = sqlite3.connect(tmp_path / "data" / "stackwatch.sqlite3")
    assert raw.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_a_file_written_by_schema_1_is_migrated_on_open_and_keeps_its_rows(tmp_path):
    """testdata/stackwatch-v1.sqlite3 was written with schema 1 (no index on interval ends)."""
    path = tmp_path / "stackwatch.sqlite3"
    shutil.copy(TESTDATA / "stackwatch-v1.sqlite3", path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 1
    store = StateStore(path)
    assert store.schema_version == SCHEMA_VERSION == 3
    assert store.intervals("render", 0) == [StoredInterval(
        "render", "srv-1", 1793491200.0, 1793577600.0, '{"instances":2,"kind":"service","plan":"standard"}')]
    assert store.coverage() == {"render": "2026-11-01"}
    indexes = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "state_interval_end" in indexes
    assert store.unpriced() == []  # v3: the unpriced-usage table exists, empty


def test_a_file_that_is_not_sqlite_is_an_error_naming_it_and_is_left_untouched(tmp_path):
    path = tmp_path / "stackwatch.sqlite3"
    path.write_bytes(b"this is not a database, it is a shopping list\n" * 100)
    before = path.read_bytes()
    with pytest.raises(StateStoreError) as caught:
        StateStore(path)
    assert str(path) in caught.value.render()
    assert path.read_bytes() == before


def test_another_applications_database_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "stackwatch.sqlite3"
    foreign = sqlite3.connect(path)
    foreign.execute("CREATE TABLE invoices (id INTEGER)")
    foreign.commit()
    foreign.close()
    before = path.read_bytes()
    with pytest.raises(StateStoreError, match="another application"):
        StateStore(path)
    assert path.read_bytes() == before


def test_a_file_from_a_newer_stackwatch_is_refused(tmp_path):
    path = tmp_path / "stackwatch.sqlite3"
    StateStore(path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    raw.commit()
    raw.close()
    with pytest.raises(StateStoreError, match="newer stackwatch"):
        StateStore(path)


def test_run_exits_2_naming_a_corrupt_state_file(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    state_file = data / "stackwatch.sqlite3"
    state_file.write_bytes(b"\x00garbage" * 512)
    config = tmp_path / "stackwatch.yaml"
    config.write_text(f"service:\n  data_dir: {data}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert str(state_file) in result.output
    assert "Traceback" not in result.output


def _record(day: int, usd: float) -> CostRecord:
    start = datetime(2026, 11, day, tzinfo=timezone.utc)
    return CostRecord(provider="render", service_name="Web Service", service_category="Compute",
                      resource_id="srv-1", resource_name="api", period_start=start,
                      period_end=start.replace(hour=23), billed_cost=usd, source="estimated", sku="starter")


def test_the_ledger_survives_a_reopen_with_replaced_days_replaced(tmp_path):
    store = StateStore(tmp_path / "s.sqlite3")
    ledger = PersistentLedger(store)
    ledger.upsert([_record(1, 1.25), _record(2, 2.5)])
    ledger.replace_day("render", "estimated", _record(2, 0).day, [_record(2, 3.75)])
    ledger.covers_from("render", _record(1, 0).day)
    store.close()
    reopened = PersistentLedger(StateStore(tmp_path / "s.sqlite3"))
    assert sorted(r.billed_cost for r in reopened.stored()) == [1.25, 3.75]
    now = datetime(2026, 11, 2, 23, tzinfo=timezone.utc)
    assert reopened.summary(now).month_to_date_by_provider["render"] == pytest.approx(5.0)
    assert reopened.stored()[0] == _record(1, 1.25)
