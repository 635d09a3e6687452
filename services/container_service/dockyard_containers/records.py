"""Container and exec records in SQLite (DATA/containers/container.db, WAL).

Records are `containers_pb2.Container` messages; the Docker JSON documents are stored as blobs,
the state as a JSON object. Lookups follow dockerd's GetContainer: full id, name, id prefix.
"""

import json
import re
import sqlite3
import threading

from dockyard_api.containers.v1 import containers_pb2
from dockyard_api.types.v1 import types_pb2
from dockyard_common import errors, ids

_ID_RE = re.compile(r"^[0-9a-f]{64}$")
_NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")

_BLOBS = ("config_json", "host_config_json", "spec_json", "network_json", "mounts_json", "health_json")
_TEXTS = ("name", "image", "image_id", "snapshot_key", "created", "runtime",
          "resolv_conf_path", "hostname_path", "hosts_path", "log_path")
_STATE_FIELDS = [f.name for f in containers_pb2.ContainerState.DESCRIPTOR.fields]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS containers (
  id TEXT PRIMARY KEY,
  name TEXT UNIQUE NOT NULL,
  image TEXT, image_id TEXT, snapshot_key TEXT, created TEXT, runtime TEXT,
  resolv_conf_path TEXT, hostname_path TEXT, hosts_path TEXT, log_path TEXT,
  config_json BLOB, host_config_json BLOB, spec_json BLOB, network_json BLOB, mounts_json BLOB,
  rootfs TEXT, labels TEXT, state TEXT, health_json BLOB
);
CREATE TABLE IF NOT EXISTS execs (
  exec_id TEXT PRIMARY KEY,
  container_id TEXT NOT NULL,
  process_json BLOB, terminal INTEGER, stdin INTEGER,
  running INTEGER, pid INTEGER, exit_code INTEGER, exited INTEGER, registered INTEGER
);
"""


def new_state():
    return containers_pb2.ContainerState(status="created", started_at=ids.ZERO_TIME,
                                         finished_at=ids.ZERO_TIME)


def state_to_json(state):
    return json.dumps({name: getattr(state, name) for name in _STATE_FIELDS})


def state_from_json(text):
    data = json.loads(text) if text else {}
    return containers_pb2.ContainerState(**{k: v for k, v in data.items() if k in _STATE_FIELDS})


def _mounts_to_json(mounts):
    return json.dumps([{"type": m.type, "source": m.source, "target": m.target,
                        "options": list(m.options)} for m in mounts])


def _mounts_from_json(text):
    return [types_pb2.Mount(**m) for m in json.loads(text or "[]")]


def not_found(ref):
    return errors.NotFound("No such container: %s" % ref)


class Store:
    """Thread-safe access to container.db (one connection guarded by a lock)."""

    def __init__(self, path):
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._add_missing_columns()

    def _add_missing_columns(self):
        """Columns added since a database was created (additive record fields)."""
        have = {row[1] for row in self._db.execute("PRAGMA table_info(containers)")}
        for col in _BLOBS:
            if col not in have:
                self._db.execute("ALTER TABLE containers ADD COLUMN %s BLOB" % col)

    def close(self):
        with self._lock:
            self._db.close()

    # containers --------------------------------------------------------------
    def create(self, rec):
        rec = containers_pb2.Container.FromString(rec.SerializeToString())
        if not _ID_RE.match(rec.id):
            raise errors.InvalidArgument("invalid container id %r: 64 lowercase hex digits expected" % rec.id)
        rec.name = rec.name.lstrip("/")
        if rec.name and not _NAME_RE.match(rec.name):
            raise errors.InvalidArgument(
                "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed" % rec.name)
        if not rec.created:
            rec.created = ids.now_rfc3339()
        if not rec.HasField("state") or not rec.state.status:
            rec.state.CopyFrom(new_state())
        with self._lock:
            if self._row("SELECT id FROM containers WHERE id=?", rec.id):
                raise errors.Conflict("container %s already exists" % rec.id)
            if not rec.name:
                rec.name = self._free_name()
            self._check_name_free(rec.name)
            self._insert(rec)
        return rec

    def _free_name(self):
        for attempt in range(20):
            name = ids.random_name()
            if attempt >= 5:
                name += str(attempt)
            if not self._row("SELECT id FROM containers WHERE name=?", name):
                return name
        return ids.random_name() + ids.new_id()[:6]

    def _check_name_free(self, name, own_id=None):
        row = self._row("SELECT id FROM containers WHERE name=?", name)
        if row and row[0] != own_id:
            raise errors.Conflict(
                'Conflict. The container name "/%s" is already in use by container "%s". '
                "You have to remove (or rename) that container to be able to reuse that name."
                % (name, row[0]))

    def _insert(self, rec):
        cols = ["id"] + list(_TEXTS) + list(_BLOBS) + ["rootfs", "labels", "state"]
        values = [rec.id] + [getattr(rec, c) for c in _TEXTS] + [bytes(getattr(rec, c)) for c in _BLOBS]
        values += [_mounts_to_json(rec.rootfs), json.dumps(dict(rec.labels)), state_to_json(rec.state)]
        self._db.execute("INSERT INTO containers (%s) VALUES (%s)"
                         % (",".join(cols), ",".join("?" * len(cols))), values)

    def _row(self, sql, *args):
        return self._db.execute(sql, args).fetchone()

    def _load(self, row):
        cols = ["id"] + list(_TEXTS) + list(_BLOBS) + ["rootfs", "labels", "state"]
        data = dict(zip(cols, row))
        rec = containers_pb2.Container(id=data["id"])
        for c in _TEXTS:
            setattr(rec, c, data[c] or "")
        for c in _BLOBS:
            setattr(rec, c, bytes(data[c] or b""))
        rec.rootfs.extend(_mounts_from_json(data["rootfs"]))
        rec.labels.update(json.loads(data["labels"] or "{}"))
        rec.state.CopyFrom(state_from_json(data["state"]))
        return rec

    def _select(self, where="", *args):
        cols = ["id"] + list(_TEXTS) + list(_BLOBS) + ["rootfs", "labels", "state"]
        return self._db.execute("SELECT %s FROM containers %s" % (",".join(cols), where), args).fetchall()

    def get(self, ref):
        """By full id, name (with or without "/") or unique id prefix (dockerd's order)."""
        if not ref:
            raise not_found(ref)
        with self._lock:
            rows = self._select("WHERE id=?", ref)
            if not rows:
                rows = self._select("WHERE name=?", ref.lstrip("/"))
            if not rows and re.match(r"^[0-9a-f]+$", ref):
                rows = self._select("WHERE id LIKE ? LIMIT 2", ref + "%")
                if len(rows) > 1:
                    raise errors.InvalidArgument("multiple IDs found with provided prefix: %s" % ref)
            if not rows:
                raise not_found(ref)
            return self._load(rows[0])

    def list(self, all=True):
        with self._lock:
            recs = [self._load(r) for r in self._select("ORDER BY created DESC")]
        if not all:
            recs = [r for r in recs if r.state.running]
        return recs

    def update(self, cid, **docs):
        """Replace the documents given (non-empty values only)."""
        docs = {k: v for k, v in docs.items() if v}
        unknown = set(docs) - set(_BLOBS)
        if unknown:
            raise errors.InvalidArgument("unknown fields %s" % sorted(unknown))
        with self._lock:
            rec = self.get(cid)
            if docs:
                sets = ",".join("%s=?" % k for k in docs)
                self._db.execute("UPDATE containers SET %s WHERE id=?" % sets,
                                 [bytes(v) for v in docs.values()] + [rec.id])
            return self.get(rec.id)

    def rename(self, ref, new_name):
        new_name = (new_name or "").lstrip("/")
        if not new_name or not _NAME_RE.match(new_name):
            raise errors.InvalidArgument(
                "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed" % new_name)
        with self._lock:
            rec = self.get(ref)
            if rec.name == new_name:
                raise errors.Conflict("Renaming a container with the same name as its current name")
            self._check_name_free(new_name, own_id=rec.id)
            self._db.execute("UPDATE containers SET name=? WHERE id=?", (new_name, rec.id))
            rec.name = new_name
            return rec

    def set_state(self, cid, state):
        with self._lock:
            cur = self._db.execute("UPDATE containers SET state=? WHERE id=?",
                                   (state_to_json(state), cid))
            if cur.rowcount == 0:
                raise not_found(cid)

    def delete(self, cid):
        with self._lock:
            self._db.execute("DELETE FROM containers WHERE id=?", (cid,))
            self._db.execute("DELETE FROM execs WHERE container_id=?", (cid,))

    # execs -----------------------------------------------------------------------
    _EXEC_COLS = ("exec_id", "container_id", "process_json", "terminal", "stdin", "running", "pid",
                  "exit_code", "exited", "registered")

    def put_exec(self, ex):
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO execs (%s) VALUES (%s)"
                             % (",".join(self._EXEC_COLS), ",".join("?" * len(self._EXEC_COLS))),
                             [ex.get(c) for c in self._EXEC_COLS])

    def get_exec(self, exec_id):
        with self._lock:
            row = self._row("SELECT %s FROM execs WHERE exec_id=?" % ",".join(self._EXEC_COLS), exec_id)
        if not row:
            raise errors.NotFound("No such exec instance: %s" % exec_id)
        ex = dict(zip(self._EXEC_COLS, row))
        ex["process_json"] = bytes(ex["process_json"] or b"")
        for flag in ("terminal", "stdin", "running", "exited", "registered"):
            ex[flag] = bool(ex[flag])
        return ex

    def delete_exec(self, exec_id):
        with self._lock:
            self._db.execute("DELETE FROM execs WHERE exec_id=?", (exec_id,))

    def running_execs(self, cid):
        with self._lock:
            rows = self._db.execute("SELECT exec_id FROM execs WHERE container_id=? AND running=1",
                                    (cid,)).fetchall()
        return [r[0] for r in rows]
