"""image.db: SQLite (WAL) tables for images, tags and snapshots; one connection per thread."""

import contextlib
import os
import sqlite3
import threading

SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id            TEXT PRIMARY KEY,      -- sha256:<hex of config blob>
    config_digest TEXT NOT NULL,
    diff_ids      TEXT NOT NULL,         -- JSON list, bottom first
    chain_id      TEXT NOT NULL,         -- "" for an image without layers
    size          INTEGER NOT NULL,
    created       TEXT NOT NULL,
    parent        TEXT NOT NULL DEFAULT '',
    added         INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tags (
    ref      TEXT PRIMARY KEY,            -- familiar "repo:tag"
    image_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS repo_digests (
    ref      TEXT PRIMARY KEY,            -- familiar "repo@sha256:..."
    image_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshots (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,   -- directory snapshots/<id>
    key     TEXT UNIQUE NOT NULL,                -- chain id (committed) or caller's key (active)
    parent  TEXT NOT NULL DEFAULT '',            -- chain id of the parent committed snapshot
    kind    TEXT NOT NULL,                       -- "committed" | "active"
    size    INTEGER NOT NULL DEFAULT 0,          -- committed: bytes of regular files in the layer
    created INTEGER NOT NULL
);
"""


class Database:
    def __init__(self, path):
        self.path = path
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._local = threading.local()
        self.write_lock = threading.RLock()
        with self.write_lock:
            self.conn().executescript(SCHEMA)

    def conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def query(self, sql, args=()):
        return self.conn().execute(sql, args).fetchall()

    def one(self, sql, args=()):
        return self.conn().execute(sql, args).fetchone()

    @contextlib.contextmanager
    def tx(self):
        """A write transaction, serialized within the process."""
        with self.write_lock:
            conn = self.conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
