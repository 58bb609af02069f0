"""The SQLite file that keeps stackwatch's memory across restarts (`<data_dir>/stackwatch.sqlite3`):
observed state intervals, the cost ledger, cost coverage and unpriced usage.

A file that is not SQLite, belongs to another application or comes from a newer stackwatch is
an error naming the file (`StateStoreError`); older schemas are migrated on open. Tables and
rules: README.md beside this file, and docs/costs.md, "Observed state and the state file".
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from exporters.core.config import ConfigError

APPLICATION_ID = 0x53574331  # "SWC1"
FILE_NAME = "stackwatch.sqlite3"

# Migration N brings a file from user_version N to N + 1.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE state_interval (provider TEXT NOT NULL, resource TEXT NOT NULL, start REAL NOT NULL,"
        " end REAL NOT NULL, state TEXT NOT NULL, PRIMARY KEY (provider, resource, start))",
        "CREATE TABLE cost_record (provider TEXT NOT NULL, source TEXT NOT NULL, day TEXT NOT NULL,"
        " key TEXT NOT NULL, record TEXT NOT NULL, PRIMARY KEY (provider, source, day, key))",
        "CREATE TABLE cost_coverage (provider TEXT PRIMARY KEY, first_day TEXT NOT NULL)",
    ),
    (
        # v2: finding the intervals that reach into a window without scanning a resource's whole past.
        "CREATE INDEX state_interval_end ON state_interval (provider, end)",
    ),
    (
        # v3: unpriced usage survives a restart (amount NULL: the provider's data gives none).
        "CREATE TABLE unpriced_usage (provider TEXT NOT NULL, day TEXT NOT NULL, item TEXT NOT NULL,"
        " unit TEXT NOT NULL, quantity REAL NOT NULL, usd REAL, PRIMARY KEY (provider, day, item, unit))",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


class StateStoreError(ConfigError):
    """The state file cannot be used; phrased for the operator (exit 2, no traceback, file named)."""

    def __init__(self, path: Path, problem: str):
        self.path = path
        self.problem = problem
        super().__init__(str(path), [problem])

    def render(self) -> str:
        return f"cannot use the state file {self.path}:\n  - {self.problem}"


@dataclass(frozen=True)
class StoredInterval:
    provider: str
    resource: str
    start: float
    end: float
    state: str  # canonical JSON


class StateStore:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._db = self._open(path)

    @classmethod
    def in_directory(cls, data_dir: str | Path) -> "StateStore":
        directory = Path(data_dir)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateStoreError(directory, f"cannot create the data directory: {exc.strerror}") from None
        return cls(directory / FILE_NAME)

    # --- opening, checking, migrating ---

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        existed = path.exists() and path.stat().st_size > 0
        try:
            db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise StateStoreError(path, f"cannot open the state file: {exc}") from None
        try:
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError:
            db.close()
            raise StateStoreError(path, "not a stackwatch state file (not an SQLite database, or corrupt); "
                                        "move it away or point service.data_dir elsewhere") from None
        if existed and app_id != APPLICATION_ID and (app_id != 0 or tables or version):
            db.close()
            raise StateStoreError(path, f"an SQLite database of another application (application_id {app_id:#x}); "
                                        "stackwatch will not modify it")
        if version > SCHEMA_VERSION:
            db.close()
            raise StateStoreError(path, f"written by a newer stackwatch (schema {version}, "
                                        f"this one knows up to {SCHEMA_VERSION}); upgrade stackwatch")
        try:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            db.execute("PRAGMA synchronous=NORMAL")
            check = db.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            db.close()
            raise StateStoreError(path, f"corrupt state file ({exc}); move it away to start afresh") from None
        if check != "ok":
            db.close()
            raise StateStoreError(path, f"corrupt state file (quick_check: {check}); move it away to start afresh")
        if mode.lower() != "wal":
            db.close()
            raise StateStoreError(path, f"cannot use write-ahead logging here (journal_mode {mode})")
        for step in range(version, SCHEMA_VERSION):
            db.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[step]:
                    db.execute(statement)
                db.execute(f"PRAGMA application_id={APPLICATION_ID}")
                db.execute(f"PRAGMA user_version={step + 1}")
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                db.execute("ROLLBACK")
                db.close()
                raise StateStoreError(path, f"migration to schema {step + 1} failed: {exc}") from None
        return db

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    @property
    def journal_mode(self) -> str:
        with self._lock:
            return str(self._db.execute("PRAGMA journal_mode").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, statements: Iterable[tuple[str, tuple]]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    self._db.execute(sql, args)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # --- state intervals ---

    def save_intervals(self, intervals: Iterable[StoredInterval]) -> None:
        """Insert or update intervals (an interval is identified by provider, resource and start)."""
        self._write(("INSERT OR REPLACE INTO state_interval VALUES (?, ?, ?, ?, ?)",
                     (i.provider, i.resource, i.start, i.end, i.state)) for i in intervals)

    def intervals(self, provider: str, since: float) -> list[StoredInterval]:
        """Intervals of `provider` that end at or after `since`, oldest first per resource."""
        with self._lock:
            rows = self._db.execute(
                "SELECT provider, resource, start, end, state FROM state_interval WHERE provider = ? AND end >= ?"
                " ORDER BY resource, start", (provider, since)).fetchall()
        return [StoredInterval(*row) for row in rows]

    # --- the cost ledger ---

    def save_cost_records(self, rows: Iterable[tuple[str, str, str, str, dict]]) -> None:
        """(provider, source, day, key, record as a dict) rows, upserted."""
        self._write(("INSERT OR REPLACE INTO cost_record VALUES (?, ?, ?, ?, ?)",
                     (p, s, d, k, json.dumps(r, separators=(",", ":")))) for p, s, d, k, r in rows)

    def replace_cost_day(self, provider: str, source: str, day: str,
                         rows: Iterable[tuple[str, dict]]) -> None:
        statements: list[tuple[str, tuple]] = [
            ("DELETE FROM cost_record WHERE provider = ? AND source = ? AND day = ?", (provider, source, day))]
        statements += [("INSERT OR REPLACE INTO cost_record VALUES (?, ?, ?, ?, ?)",
                        (provider, source, day, k, json.dumps(r, separators=(",", ":")))) for k, r in rows]
        self._write(statements)

    def cost_records(self) -> list[dict]:
        with self._lock:
            rows = self._db.execute("SELECT record FROM cost_record ORDER BY provider, day").fetchall()
        return [json.loads(r[0]) for r in rows]

    # --- unpriced usage ---

    def replace_unpriced(self, provider: str, first: str, last: str,
                         rows: Iterable[tuple[str, str, str, float, float | None]], keep_from: str) -> None:
        """Replace `provider`'s unpriced usage of days first..last (ISO dates) with (day, item, unit,
        quantity, usd) rows, and forget every day before `keep_from` (bounded: older cycles are not needed)."""
        statements: list[tuple[str, tuple]] = [
            ("DELETE FROM unpriced_usage WHERE provider = ? AND day BETWEEN ? AND ?", (provider, first, last)),
            ("DELETE FROM unpriced_usage WHERE day < ?", (keep_from,))]
        statements += [("INSERT OR REPLACE INTO unpriced_usage VALUES (?, ?, ?, ?, ?, ?)", (provider, *row))
                       for row in rows]
        self._write(statements)

    def unpriced(self) -> list[tuple[str, str, str, str, float, float | None]]:
        """Every stored (provider, day, item, unit, quantity, usd) row."""
        with self._lock:
            return [tuple(r) for r in self._db.execute(  # type: ignore[misc]
                "SELECT provider, day, item, unit, quantity, usd FROM unpriced_usage ORDER BY provider, day")]

    def save_coverage(self, provider: str, first_day: str) -> None:
        self._write([("INSERT INTO cost_coverage VALUES (?, ?) ON CONFLICT (provider) DO UPDATE SET "
                      "first_day = min(first_day, excluded.first_day)", (provider, first_day))])

    def coverage(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT provider, first_day FROM cost_coverage").fetchall())
