"""volume.db: the volumes and the references containers hold on them (SQLite, WAL).

Not thread-safe by itself: the store serialises every call with its lock.
"""

import json
import sqlite3
from dataclasses import dataclass, field

_SCHEMA = """
CREATE TABLE IF NOT EXISTS volumes (
    name       TEXT PRIMARY KEY,
    driver     TEXT NOT NULL,
    labels     TEXT NOT NULL,          -- JSON object
    options    TEXT NOT NULL,          -- JSON object (driver options)
    created_at TEXT NOT NULL,          -- RFC 3339
    anonymous  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS volume_refs (
    volume       TEXT NOT NULL REFERENCES volumes(name) ON DELETE CASCADE,
    container_id TEXT NOT NULL,
    PRIMARY KEY (volume, container_id)
);
"""


@dataclass
class VolumeRow:
    name: str
    driver: str
    labels: dict
    options: dict
    created_at: str
    anonymous: bool
    users: list = field(default_factory=list)   # container ids, sorted


class VolumeDB:
    def __init__(self, path):
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(_SCHEMA)

    def close(self):
        self.conn.close()

    # transactions ------------------------------------------------------------
    def transaction(self):
        return _Transaction(self.conn)

    # reads ---------------------------------------------------------------------
    def get(self, name):
        row = self.conn.execute("SELECT name, driver, labels, options, created_at, anonymous "
                                "FROM volumes WHERE name = ?", (name,)).fetchone()
        return self._row(row) if row else None

    def all(self):
        rows = self.conn.execute("SELECT name, driver, labels, options, created_at, anonymous "
                                 "FROM volumes ORDER BY name").fetchall()
        return [self._row(r) for r in rows]

    def users(self, name):
        return [r[0] for r in self.conn.execute(
            "SELECT container_id FROM volume_refs WHERE volume = ? ORDER BY container_id", (name,))]

    def _row(self, r):
        return VolumeRow(name=r[0], driver=r[1], labels=json.loads(r[2]), options=json.loads(r[3]),
                         created_at=r[4], anonymous=bool(r[5]), users=self.users(r[0]))

    # writes (call inside a transaction) -----------------------------------------
    def insert(self, v):
        self.conn.execute("INSERT INTO volumes (name, driver, labels, options, created_at, anonymous) "
                          "VALUES (?, ?, ?, ?, ?, ?)",
                          (v.name, v.driver, json.dumps(v.labels, sort_keys=True),
                           json.dumps(v.options, sort_keys=True), v.created_at, int(v.anonymous)))

    def delete(self, name):
        self.conn.execute("DELETE FROM volumes WHERE name = ?", (name,))

    def add_ref(self, name, container_id):
        """True when the reference is new."""
        cur = self.conn.execute("INSERT OR IGNORE INTO volume_refs (volume, container_id) VALUES (?, ?)",
                                (name, container_id))
        return cur.rowcount == 1

    def remove_ref(self, name, container_id):
        cur = self.conn.execute("DELETE FROM volume_refs WHERE volume = ? AND container_id = ?",
                                (name, container_id))
        return cur.rowcount == 1


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK when the block raises."""

    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, exc_type, *_):
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        return False
