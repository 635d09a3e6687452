"""Resource figures for a task from its cgroups (v1 and v2), shaped like Docker's stats JSON."""

import os
import time

CGROUP_ROOT = "/sys/fs/cgroup"


def cgroup_paths(pid):
    """controller -> directory for a process (v1 per controller, "" key for v2)."""
    paths = {}
    try:
        with open("/proc/%d/cgroup" % pid) as f:
            for line in f:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                if not controllers:
                    paths[""] = os.path.join(CGROUP_ROOT, "unified" if os.path.isdir(
                        os.path.join(CGROUP_ROOT, "unified")) else "", path.lstrip("/"))
                for c in controllers.split(","):
                    paths[c.replace("name=", "")] = os.path.join(CGROUP_ROOT, c, path.lstrip("/"))
    except (OSError, ValueError):
        pass
    return paths


def _int(path, default=0):
    try:
        with open(path) as f:
            v = f.read().strip()
        return int(v) if v != "max" else default
    except (OSError, ValueError):
        return default


def _kv(path):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                k, _, v = line.partition(" ")
                try:
                    out[k] = int(v)
                except ValueError:
                    pass
    except OSError:
        pass
    return out


def _system_cpu_ns():
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:8]
    return sum(int(x) for x in fields) * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def collect(pid):
    p = cgroup_paths(pid) if pid > 0 else {}
    stats = {"read": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".%09dZ" % (time.time_ns() % 1_000_000_000),
             "pids_stats": {}, "cpu_stats": {}, "memory_stats": {}, "blkio_stats": {}}
    online = os.cpu_count() or 1
    if "memory" in p:
        m = p["memory"]
        raw = _kv(os.path.join(m, "memory.stat"))
        stats["memory_stats"] = {
            "usage": _int(os.path.join(m, "memory.usage_in_bytes")),
            "max_usage": _int(os.path.join(m, "memory.max_usage_in_bytes")),
            "limit": min(_int(os.path.join(m, "memory.limit_in_bytes")), _total_memory()),
            "failcnt": _int(os.path.join(m, "memory.failcnt")),
            "stats": raw,
        }
    if "cpuacct" in p:
        c = p["cpuacct"]
        percpu = []
        try:
            with open(os.path.join(c, "cpuacct.usage_percpu")) as f:
                percpu = [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            pass
        st = _kv(os.path.join(c, "cpuacct.stat"))
        tick = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
        stats["cpu_stats"] = {
            "cpu_usage": {"total_usage": _int(os.path.join(c, "cpuacct.usage")), "percpu_usage": percpu,
                          "usage_in_kernelmode": st.get("system", 0) * tick,
                          "usage_in_usermode": st.get("user", 0) * tick},
            "system_cpu_usage": _system_cpu_ns(), "online_cpus": online,
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        }
    elif "" in p and os.path.exists(os.path.join(p[""], "cpu.stat")):
        st = _kv(os.path.join(p[""], "cpu.stat"))
        stats["cpu_stats"] = {
            "cpu_usage": {"total_usage": st.get("usage_usec", 0) * 1000,
                          "usage_in_kernelmode": st.get("system_usec", 0) * 1000,
                          "usage_in_usermode": st.get("user_usec", 0) * 1000},
            "system_cpu_usage": _system_cpu_ns(), "online_cpus": online,
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}
        stats["memory_stats"] = {"usage": _int(os.path.join(p[""], "memory.current")),
                                 "limit": _int(os.path.join(p[""], "memory.max"), _total_memory()),
                                 "stats": _kv(os.path.join(p[""], "memory.stat"))}
    if pid > 0:
        networks = _networks(pid)
        if networks:
            stats["networks"] = networks
    stats["blkio_stats"] = _blkio(p)
    pids_dir = p.get("pids") or p.get("")
    if pids_dir:
        stats["pids_stats"] = {"current": _int(os.path.join(pids_dir, "pids.current"))}
        limit = _int(os.path.join(pids_dir, "pids.max"), 0)
        if limit:
            stats["pids_stats"]["limit"] = limit
    return stats


def _networks(pid):
    """Per-interface counters of the container's network namespace, read through its init
    process (/proc/PID/net/dev shows the netns of PID): no need to enter the namespace."""
    out = {}
    try:
        with open("/proc/%d/net/dev" % pid) as f:
            lines = f.readlines()[2:]
    except OSError:
        return out
    for line in lines:
        name, _, rest = line.partition(":")
        name, v = name.strip(), rest.split()
        if name == "lo" or len(v) < 16:
            continue
        v = [int(x) for x in v]
        out[name] = {"rx_bytes": v[0], "rx_packets": v[1], "rx_errors": v[2], "rx_dropped": v[3],
                     "tx_bytes": v[8], "tx_packets": v[9], "tx_errors": v[10], "tx_dropped": v[11]}
    return out


def _blkio(paths):
    """Docker's blkio_stats from cgroup v1 blkio (io_service_bytes / io_serviced) or v2 io.stat."""
    recursive = {"io_service_bytes_recursive": [], "io_serviced_recursive": []}
    if "blkio" in paths:
        for key, name in (("io_service_bytes_recursive", "blkio.throttle.io_service_bytes"),
                          ("io_serviced_recursive", "blkio.throttle.io_serviced")):
            try:
                with open(os.path.join(paths["blkio"], name)) as f:
                    for line in f:
                        parts = line.split()
                        if len(parts) == 3 and ":" in parts[0]:
                            major, minor = parts[0].split(":")
                            recursive[key].append({"major": int(major), "minor": int(minor),
                                                   "op": parts[1], "value": int(parts[2])})
            except (OSError, ValueError):
                pass
    elif "" in paths:
        try:
            with open(os.path.join(paths[""], "io.stat")) as f:
                for line in f:
                    dev, *fields = line.split()
                    major, minor = (int(x) for x in dev.split(":"))
                    kv = dict(x.split("=", 1) for x in fields if "=" in x)
                    for op, k in (("read", "rbytes"), ("write", "wbytes")):
                        recursive["io_service_bytes_recursive"].append(
                            {"major": major, "minor": minor, "op": op, "value": int(kv.get(k, 0))})
                    for op, k in (("read", "rios"), ("write", "wios")):
                        recursive["io_serviced_recursive"].append(
                            {"major": major, "minor": minor, "op": op, "value": int(kv.get(k, 0))})
        except (OSError, ValueError):
            pass
    return recursive


def _total_memory():
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
