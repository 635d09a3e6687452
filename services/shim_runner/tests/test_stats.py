"""Docker-shaped stats from cgroup files and /proc/PID/net/dev."""

import os

from dockyard_shim import stats


def test_blkio_from_cgroup_v1_files(tmp_path):
    (tmp_path / "blkio.throttle.io_service_bytes").write_text(
        "8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\nTotal 12288\n")
    (tmp_path / "blkio.throttle.io_serviced").write_text("8:0 Read 1\n8:0 Write 2\n")
    out = stats._blkio({"blkio": str(tmp_path)})
    assert {"major": 8, "minor": 0, "op": "Write", "value": 8192} in out["io_service_bytes_recursive"]
    assert {"major": 8, "minor": 0, "op": "Read", "value": 1} in out["io_serviced_recursive"]


def test_blkio_from_cgroup_v2_io_stat(tmp_path):
    (tmp_path / "io.stat").write_text("259:0 rbytes=100 wbytes=200 rios=3 wios=4 dbytes=0 dios=0\n")
    out = stats._blkio({"": str(tmp_path)})
    assert {"major": 259, "minor": 0, "op": "write", "value": 200} in out["io_service_bytes_recursive"]
    assert {"major": 259, "minor": 0, "op": "read", "value": 3} in out["io_serviced_recursive"]


def test_networks_of_a_process_skip_loopback():
    nets = stats._networks(os.getpid())
    assert "lo" not in nets
    for counters in nets.values():
        assert counters["rx_bytes"] >= 0 and counters["tx_packets"] >= 0
