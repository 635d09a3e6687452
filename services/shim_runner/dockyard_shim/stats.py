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
    pids_dir = p.get("pids") or p.get("")
    if pids_dir:
        stats["pids_stats"] = {"current": _int(os.path.join(pids_dir, "pids.current"))}
        limit = _int(os.path.join(pids_dir, "pids.max"), 0)
        if limit:
            stats["pids_stats"]["limit"] = limit
    return stats


def _total_memory():
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
