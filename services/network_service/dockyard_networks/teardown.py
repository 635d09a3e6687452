"""python -m dockyard_networks.teardown: remove everything this configuration created.

For test fixtures (reads the same env as the service): every sandbox's veth and netns file, the
bridges of its networks, the macvlan/ipvlan parent links it made, its iptables chains, the
endpoint files and network.db. Safe to run when nothing exists, and while the service is stopped.
"""

import logging
import os
import shutil
import sqlite3

from dockyard_common import logsetup

from . import netns
from .bridge import Links
from .config import NetConfig

log = logging.getLogger("dockyard_networks.teardown")
SYSTEM_NETNS_DIRS = ("/run/netns", "/var/run/netns")


def _rows(db_path, sql):
    if not os.path.exists(db_path):
        return []
    try:
        con = sqlite3.connect(db_path)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        log.exception("cannot read network.db")
        return []


def _try(what, fn, *args):
    try:
        fn(*args)
    except Exception as exc:
        log.warning("teardown: %s failed: %s", what, exc)


def teardown(cfg, links=None):
    links = links or Links()
    db = cfg.db_path
    for host_veth, in _rows(db, "SELECT host_veth FROM endpoints WHERE host_veth != ''"):
        _try("delete veth " + host_veth, links.delete_link, host_veth)
    paths = {p for p, in _rows(db, "SELECT netns_path FROM sandboxes WHERE netns_path != ''")}
    private_dir = os.path.realpath(cfg.netns_dir) not in SYSTEM_NETNS_DIRS
    if private_dir and os.path.isdir(cfg.netns_dir):
        # A test stack's own netns dir: every dy-* file in it is ours, recorded or not.
        paths |= {os.path.join(cfg.netns_dir, n) for n in os.listdir(cfg.netns_dir)
                  if n.startswith("dy-")}
    for path in sorted(paths):
        _try("remove netns " + path, netns.remove, path)
    # macvlan/ipvlan parents we made (dummy, VLAN links); the user's own parents stay
    for parent, in _rows(db, "SELECT parent FROM networks WHERE parent_link != ''"):
        _try("delete parent link " + parent, links.delete_link, parent)
    bridges = {b for b, in _rows(db, "SELECT bridge_name FROM networks WHERE driver = 'bridge'")}
    bridges.add(cfg.bridge_name)
    for name in sorted(bridges):
        _try("delete bridge " + name, links.delete_link, name)
    _try("remove iptables chains", _remove_chains, cfg)
    shutil.rmtree(cfg.endpoints_dir, ignore_errors=True)
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(db + suffix)
        except FileNotFoundError:
            pass
    if private_dir and os.path.isdir(cfg.netns_dir):
        netns.unmount_dir(cfg.netns_dir)
        try:
            os.rmdir(cfg.netns_dir)
        except OSError:
            pass


def _remove_chains(cfg):
    try:
        from . import firewall
    except ImportError:
        return
    firewall.Firewall(cfg.chain_prefix).remove_all()


def main():
    logsetup.setup("network-teardown")
    for name in ("pyroute2", "asyncio"):
        logging.getLogger(name).setLevel(logging.WARNING)
    teardown(NetConfig.from_env())


if __name__ == "__main__":
    main()
