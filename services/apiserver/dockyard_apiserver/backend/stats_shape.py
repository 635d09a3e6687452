"""Container stats in the shape dockerd 20.10 answers them (types.StatsJSON).

The shim-runner reports what the cgroup files hold; dockerd (through containerd's cgroups v1
metrics) passes on a fixed set of memory.stat keys, every blkio list, and omits a zero failcnt.
A container that is not running gets Go's zero StatsJSON.
"""

from dockyard_common import ids

# containerd cgroups/v1 MemoryStat fields that moby copies into memory_stats.stats.
_V1_MEMORY_KEYS = ("cache", "rss", "rss_huge", "mapped_file", "dirty", "writeback", "pgpgin",
                   "pgpgout", "pgfault", "pgmajfault", "inactive_anon", "active_anon",
                   "inactive_file", "active_file", "unevictable")
V1_MEMORY_KEYS = frozenset(_V1_MEMORY_KEYS + tuple("total_" + k for k in _V1_MEMORY_KEYS)
                           + ("hierarchical_memory_limit", "hierarchical_memsw_limit"))
BLKIO_KEYS = ("io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
              "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
              "io_time_recursive", "sectors_recursive")


def zero_cpu():
    return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}


def stopped(rec):
    """What dockerd answers for a container that is not running."""
    return {"read": ids.ZERO_TIME, "preread": ids.ZERO_TIME, "pids_stats": {},
            "blkio_stats": {k: None for k in BLKIO_KEYS}, "num_procs": 0, "storage_stats": {},
            "cpu_stats": zero_cpu(), "precpu_stats": zero_cpu(), "memory_stats": {},
            "name": "/" + rec.name, "id": rec.id}


def running(data):
    mem = data.get("memory_stats") or {}
    raw = mem.get("stats")
    if isinstance(raw, dict) and "hierarchical_memory_limit" in raw:   # cgroup v1
        mem["stats"] = {k: v for k, v in raw.items() if k in V1_MEMORY_KEYS}
    if not mem.get("failcnt"):
        mem.pop("failcnt", None)        # `json:"failcnt,omitempty"`
    blkio = data.get("blkio_stats")
    if isinstance(blkio, dict) and blkio:
        for key in BLKIO_KEYS:
            blkio.setdefault(key, [])
    return data
