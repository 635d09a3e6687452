"""network.db: networks, IPAM allocations, endpoints, sandboxes, published ports (SQLite, WAL).

One connection shared by the service's threads; the manager serialises writes with its lock.
Rows come back as plain dicts (JSON columns decoded).
"""

import json
import os
import sqlite3
import threading

SCHEMA = """
CREATE TABLE IF NOT EXISTS networks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    driver TEXT NOT NULL,
    scope TEXT NOT NULL DEFAULT 'local',
    created TEXT NOT NULL,
    internal INTEGER NOT NULL DEFAULT 0,
    subnet TEXT NOT NULL DEFAULT '',
    gateway TEXT NOT NULL DEFAULT '',
    ip_range TEXT NOT NULL DEFAULT '',
    options TEXT NOT NULL DEFAULT '{}',
    labels TEXT NOT NULL DEFAULT '{}',
    bridge_name TEXT NOT NULL DEFAULT '',
    predefined INTEGER NOT NULL DEFAULT 0,
    enable_ipv6 INTEGER NOT NULL DEFAULT 0,
    subnet6 TEXT NOT NULL DEFAULT '',
    gateway6 TEXT NOT NULL DEFAULT '',
    gateway6_given INTEGER NOT NULL DEFAULT 0,
    ip_range6 TEXT NOT NULL DEFAULT '',
    parent TEXT NOT NULL DEFAULT '',
    parent_link TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS allocations (
    network_id TEXT NOT NULL,
    ip TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    PRIMARY KEY (network_id, ip)
);
CREATE TABLE IF NOT EXISTS sandboxes (
    container_id TEXT PRIMARY KEY,
    netns_path TEXT NOT NULL,
    files_dir TEXT NOT NULL,
    hostname TEXT NOT NULL DEFAULT '',
    domainname TEXT NOT NULL DEFAULT '',
    extra_hosts TEXT NOT NULL DEFAULT '[]',
    container_name TEXT NOT NULL DEFAULT '',
    mode TEXT NOT NULL DEFAULT 'netns',
    dns TEXT NOT NULL DEFAULT '[]',
    dns_search TEXT NOT NULL DEFAULT '[]',
    dns_options TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS endpoints (
    endpoint_id TEXT PRIMARY KEY,
    container_id TEXT NOT NULL,
    network_id TEXT NOT NULL,
    ip TEXT NOT NULL DEFAULT '',
    prefix_len INTEGER NOT NULL DEFAULT 0,
    gateway TEXT NOT NULL DEFAULT '',
    mac TEXT NOT NULL DEFAULT '',
    interface TEXT NOT NULL DEFAULT '',
    host_veth TEXT NOT NULL DEFAULT '',
    aliases TEXT NOT NULL DEFAULT '[]',
    default_route INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL,
    ip6 TEXT NOT NULL DEFAULT '',
    prefix_len6 INTEGER NOT NULL DEFAULT 0,
    gateway6 TEXT NOT NULL DEFAULT '',
    links TEXT NOT NULL DEFAULT '[]',
    UNIQUE (container_id, network_id)
);
CREATE TABLE IF NOT EXISTS ports (
    endpoint_id TEXT NOT NULL,
    protocol TEXT NOT NULL,
    host_ip TEXT NOT NULL,
    host_port INTEGER NOT NULL,
    container_port INTEGER NOT NULL,
    seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (endpoint_id, protocol, host_ip, host_port)
);
"""

# Columns added after the first release: ALTERed into an older network.db at open.
ADDED_COLUMNS = {"sandboxes": (("dns", "TEXT NOT NULL DEFAULT '[]'"),
                               ("dns_search", "TEXT NOT NULL DEFAULT '[]'"),
                               ("dns_options", "TEXT NOT NULL DEFAULT '[]'")),
                 "networks": (("enable_ipv6", "INTEGER NOT NULL DEFAULT 0"),
                              ("subnet6", "TEXT NOT NULL DEFAULT ''"),
                              ("gateway6", "TEXT NOT NULL DEFAULT ''"),
                              ("gateway6_given", "INTEGER NOT NULL DEFAULT 0"),
                              # 0 when the user gave a subnet without a gateway: inspect then
                              # shows the config as given (the gateway is still used)
                              ("gateway_shown", "INTEGER NOT NULL DEFAULT 1"),
                              ("ip_range6", "TEXT NOT NULL DEFAULT ''"),
                              # macvlan/ipvlan: the parent link, and "dummy"/"vlan" if ours
                              ("parent", "TEXT NOT NULL DEFAULT ''"),
                              ("parent_link", "TEXT NOT NULL DEFAULT ''")),
                 "endpoints": (("ip6", "TEXT NOT NULL DEFAULT ''"),
                               ("links", "TEXT NOT NULL DEFAULT '[]'"),
                               ("prefix_len6", "INTEGER NOT NULL DEFAULT 0"),
                               ("gateway6", "TEXT NOT NULL DEFAULT ''"))}

_JSON = {"options", "labels", "extra_hosts", "aliases", "dns", "dns_search", "dns_options",
         "links"}


def _row(cursor, row):
    out = {}
    for (name, *_), value in zip(cursor.description, row):
        out[name] = json.loads(value) if name in _JSON else value
    return out


def _enc(values):
    return {k: json.dumps(v, sort_keys=True) if k in _JSON else v for k, v in values.items()}


class Store:
    def __init__(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.row_factory = _row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self._add_missing_columns()
        self._lock = threading.RLock()

    def _add_missing_columns(self):
        for table, columns in ADDED_COLUMNS.items():
            have = {r["name"] for r in self.db.execute("PRAGMA table_info(%s)" % table)}
            for name, decl in columns:
                if name not in have:
                    self.db.execute("ALTER TABLE %s ADD COLUMN %s %s" % (table, name, decl))

    def close(self):
        self.db.close()

    def transaction(self):
        return _Tx(self)

    def _exec(self, sql, args=()):
        with self._lock:
            return self.db.execute(sql, args)

    def _insert(self, table, values):
        values = _enc(values)
        cols = ", ".join(values)
        marks = ", ".join("?" * len(values))
        self._exec("INSERT INTO %s (%s) VALUES (%s)" % (table, cols, marks), tuple(values.values()))

    # networks -----------------------------------------------------------------
    def add_network(self, **values):
        self._insert("networks", values)

    def networks(self):
        return self._exec("SELECT * FROM networks ORDER BY created, name").fetchall()

    def network(self, network_id):
        return self._exec("SELECT * FROM networks WHERE id = ?", (network_id,)).fetchone()

    def network_by_name(self, name):
        return self._exec("SELECT * FROM networks WHERE name = ?", (name,)).fetchone()

    def networks_by_prefix(self, prefix):
        return self._exec("SELECT * FROM networks WHERE id LIKE ? ORDER BY id",
                          (prefix.replace("%", "").replace("_", "") + "%",)).fetchall()

    def update_network(self, network_id, **values):
        values = _enc(values)
        sets = ", ".join("%s = ?" % k for k in values)
        self._exec("UPDATE networks SET %s WHERE id = ?" % sets, (*values.values(), network_id))

    def delete_network(self, network_id):
        self._exec("DELETE FROM allocations WHERE network_id = ?", (network_id,))
        self._exec("DELETE FROM networks WHERE id = ?", (network_id,))

    # allocations --------------------------------------------------------------
    def allocated(self, network_id):
        return {r["ip"] for r in self._exec("SELECT ip FROM allocations WHERE network_id = ?",
                                            (network_id,))}

    def allocate(self, network_id, ip, endpoint_id):
        self._insert("allocations", {"network_id": network_id, "ip": ip, "endpoint_id": endpoint_id})

    def release(self, endpoint_id):
        self._exec("DELETE FROM allocations WHERE endpoint_id = ?", (endpoint_id,))

    # sandboxes ----------------------------------------------------------------
    def add_sandbox(self, **values):
        self._insert("sandboxes", values)

    def sandbox(self, container_id):
        return self._exec("SELECT * FROM sandboxes WHERE container_id = ?",
                          (container_id,)).fetchone()

    def sandboxes(self):
        return self._exec("SELECT * FROM sandboxes").fetchall()

    def update_sandbox(self, container_id, **values):
        values = _enc(values)
        sets = ", ".join("%s = ?" % k for k in values)
        self._exec("UPDATE sandboxes SET %s WHERE container_id = ?" % sets,
                   (*values.values(), container_id))

    def delete_sandbox(self, container_id):
        self._exec("DELETE FROM sandboxes WHERE container_id = ?", (container_id,))

    # endpoints ----------------------------------------------------------------
    def add_endpoint(self, **values):
        self._insert("endpoints", values)

    def endpoints(self, container_id=None, network_id=None):
        sql, args = "SELECT * FROM endpoints WHERE 1=1", []
        if container_id is not None:
            sql += " AND container_id = ?"
            args.append(container_id)
        if network_id is not None:
            sql += " AND network_id = ?"
            args.append(network_id)
        return self._exec(sql + " ORDER BY created, interface", args).fetchall()

    def endpoint(self, container_id, network_id):
        return self._exec("SELECT * FROM endpoints WHERE container_id = ? AND network_id = ?",
                          (container_id, network_id)).fetchone()

    def update_endpoint(self, endpoint_id, **values):
        values = _enc(values)
        sets = ", ".join("%s = ?" % k for k in values)
        self._exec("UPDATE endpoints SET %s WHERE endpoint_id = ?" % sets,
                   (*values.values(), endpoint_id))

    def delete_endpoint(self, endpoint_id):
        self.release(endpoint_id)
        self._exec("DELETE FROM ports WHERE endpoint_id = ?", (endpoint_id,))
        self._exec("DELETE FROM endpoints WHERE endpoint_id = ?", (endpoint_id,))

    # published ports ----------------------------------------------------------
    def add_port(self, **values):
        self._insert("ports", values)

    def ports(self, endpoint_id=None):
        """Bindings of one endpoint (in the order given), or of all endpoints."""
        if endpoint_id is None:
            return self._exec("SELECT * FROM ports ORDER BY endpoint_id, seq").fetchall()
        return self._exec("SELECT * FROM ports WHERE endpoint_id = ? ORDER BY seq",
                          (endpoint_id,)).fetchall()

    def published(self):
        """Every binding with its container addresses and bridge (what the NAT rules and the
        userland proxy need)."""
        return self._exec(
            "SELECT p.*, e.ip AS ip, e.ip6 AS ip6, e.container_id AS container_id, "
            "n.bridge_name AS bridge, n.internal AS internal FROM ports p "
            "JOIN endpoints e ON e.endpoint_id = p.endpoint_id "
            "JOIN networks n ON n.id = e.network_id ORDER BY e.created, p.endpoint_id, p.seq"
        ).fetchall()


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT/ROLLBACK around a group of writes."""

    def __init__(self, store):
        self.store = store

    def __enter__(self):
        self.store._lock.acquire()
        self.store.db.execute("BEGIN IMMEDIATE")
        return self.store

    def __exit__(self, exc_type, *_):
        try:
            self.store.db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.store._lock.release()
