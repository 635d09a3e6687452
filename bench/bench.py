#!/usr/bin/env python3
"""Speed and memory figures of a Docker-compatible engine (dockyard or Docker), side by side.

    bench.py                                  # the engine at $DOCKER_HOST
    bench.py --compare unix:///var/run/docker.sock
    bench.py -n 20 --only run,exec,memory

Prints, per engine: `docker run --rm busybox true` latency (median of N), `docker exec <ctr> true`
latency, `docker network connect` latency (SDK), containers/second for create+start+wait+rm through the Docker SDK, the time to start 30
containers in parallel, daemon-side memory (PSS) per running container (20 sleepers vs none),
idle RSS of the daemon processes, cold and warm `docker build` of a small Dockerfile and, when
`docker-registry` can run on 127.0.0.1, the pull time of a ~60 MiB image. Figures only: nothing
is asserted. The engine needs a `busybox` image (loaded from build/images/busybox.tar if missing).

Daemon processes are found by command line: for dockyard, `python -m dockyard_*` whose
DOCKYARD_STATE_ROOT is the directory of the DOCKER_HOST socket, plus `conmon` processes naming that
root; for Docker, dockerd, containerd, containerd-shim* and docker-proxy.
"""

import argparse
import array
import atexit
import concurrent.futures
import contextlib
import os
import pathlib
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
IMAGE = "busybox"
DOCKER_PROCS = ("dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2", "docker-proxy")
ALL = ("run", "exec", "netattach", "sdk", "parallel", "memory", "build", "pull")


# ------------------------------------------------------------------------------ engine access

class Engine:
    def __init__(self, host, label=None):
        self.host = host
        self.label = label or host
        self.env = dict(os.environ, DOCKER_HOST=host, DOCKER_BUILDKIT="0")
        if "DOCKER_CONFIG" not in self.env:
            cfg = tempfile.mkdtemp(prefix="dybench-cfg-")
            atexit.register(shutil.rmtree, cfg, True)
            self.env["DOCKER_CONFIG"] = cfg
        self._client = None

    def docker(self, *args, check=True, timeout=300, input=None):
        r = subprocess.run(["docker", *args], env=self.env, capture_output=True, timeout=timeout,
                           input=input)
        if check and r.returncode != 0:
            raise RuntimeError("docker %s: %s" % (" ".join(args), r.stderr.decode(errors="replace")))
        return r.stdout.decode(errors="replace")

    @property
    def client(self):
        if self._client is None:
            import docker
            self._client = docker.DockerClient(base_url=self.host, version="auto", timeout=120)
        return self._client

    def ensure_image(self):
        r = subprocess.run(["docker", "image", "inspect", IMAGE], env=self.env, capture_output=True,
                           timeout=30)
        if r.returncode == 0:
            return
        tar = ROOT / "build" / "images" / "busybox.tar"
        if not tar.exists():
            subprocess.run([sys.executable, str(ROOT / "tools" / "make_default_images.py"),
                            str(tar.parent)], check=True)
        self.docker("load", "-i", str(tar))

    # -------------------------------------------------------------- daemon processes
    def socket_path(self):
        return self.host[len("unix://"):] if self.host.startswith("unix://") else None

    def daemon_pids(self):
        """(service pids, monitor pids) of this engine."""
        sock = self.socket_path()
        state_root = os.path.dirname(sock) if sock else None
        services, monitors, docker = [], [], []
        for pid in _pids():
            cmd = _cmdline(pid)
            if not cmd:
                continue
            exe = os.path.basename(cmd[0])
            if "-m" in cmd and any(a.startswith("dockyard_") for a in cmd):
                env = _environ(pid)
                root = env.get("DOCKYARD_STATE_ROOT", "/run/dockyard")
                if state_root and os.path.realpath(root) == os.path.realpath(state_root):
                    services.append(pid)
            elif exe == "conmon" and state_root and any(state_root in a for a in cmd):
                monitors.append(pid)
            elif exe in DOCKER_PROCS or exe.startswith("containerd-shim"):
                docker.append(pid)
        if services:
            return services, monitors
        return docker, []


def _pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def _environ(pid):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            items = f.read().split(b"\0")
    except OSError:
        return {}
    out = {}
    for item in items:
        k, _, v = item.decode(errors="replace").partition("=")
        out[k] = v
    return out


def _kib(path, field):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kib(pids):
    return sum(_kib("/proc/%d/smaps_rollup" % p, "Pss") for p in pids)


def rss_kib(pids):
    return sum(_kib("/proc/%d/status" % p, "VmRSS") for p in pids)


PAGE = os.sysconf("SC_PAGE_SIZE")
_PRESENT = 1 << 63
_PFN_MASK = (1 << 55) - 1


def distinct_kib(pids):
    """Resident memory of the processes together, each physical page counted once.

    Summed RSS counts a page once per process that maps it: six Python processes each count the
    same libpython, grpc and libc pages. This reads the page frame numbers from
    /proc/PID/pagemap (root only) and counts their union; None when they cannot be read.
    """
    frames = set()
    for pid in pids:
        try:
            with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/pagemap" % pid, "rb") as pm:
                for line in maps:
                    fields = line.split()
                    if len(fields) > 5 and fields[5] == "[vsyscall]":
                        continue
                    start, end = (int(x, 16) for x in fields[0].split("-"))
                    pm.seek(start // PAGE * 8)
                    entries = array.array("Q", pm.read((end - start) // PAGE * 8))
                    frames.update(e & _PFN_MASK for e in entries if e & _PRESENT)
        except OSError:
            continue
    if frames and frames <= {0}:
        return None     # PFNs hidden (not root): the union cannot be told
    return len(frames) * PAGE // 1024


# ------------------------------------------------------------------------------ measurements

def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench_run(e, n):
    e.docker("run", "--rm", IMAGE, "true")          # warm-up
    return {"docker run --rm true (median ms)":
            1000 * statistics.median(timed(lambda: e.docker("run", "--rm", IMAGE, "true")) for _ in range(n))}


def bench_exec(e, n):
    name = "dybench-exec-%d" % os.getpid()
    e.docker("run", "-d", "--name", name, IMAGE, "sleep", "600")
    try:
        e.docker("exec", name, "true")
        times = [timed(lambda: e.docker("exec", name, "true")) for _ in range(n)]
    finally:
        e.docker("rm", "-f", name, check=False)
    return {"docker exec true (median ms)": 1000 * statistics.median(times)}


def bench_netattach(e, n):
    """API round trip of `docker network connect` on a running container (veth, address, DNS),
    measured with the SDK so the CLI's own start-up is not counted."""
    c = e.client
    tag = "dybench-net-%d" % os.getpid()
    net = c.networks.create(tag, driver="bridge")
    ctr = c.containers.run(IMAGE, ["sleep", "600"], name=tag, detach=True)
    try:
        times = []
        for _ in range(n):
            times.append(timed(lambda: c.api.connect_container_to_network(ctr.id, net.id)))
            c.api.disconnect_container_from_network(ctr.id, net.id)
    finally:
        ctr.remove(force=True)
        net.remove()
    return {"network connect of a running container (median ms)": 1000 * statistics.median(times)}


def bench_sdk(e, n):
    c = e.client

    def cycle():
        ctr = c.containers.create(IMAGE, ["true"])
        ctr.start()
        ctr.wait()
        ctr.remove()
    cycle()
    elapsed = timed(lambda: [cycle() for _ in range(n)])
    return {"SDK create+start+wait+rm (containers/s)": n / elapsed}


def bench_parallel(e, count=30):
    c = e.client
    names = ["dybench-par-%d-%d" % (os.getpid(), i) for i in range(count)]

    def start(name):
        c.containers.run(IMAGE, ["sleep", "600"], name=name, detach=True)
    try:
        with concurrent.futures.ThreadPoolExecutor(count) as pool:
            elapsed = timed(lambda: list(pool.map(start, names)))
    finally:
        _remove(e, names)
    return {"start %d in parallel (s)" % count: elapsed}


def _remove(e, names):
    def rm(name):
        e.docker("rm", "-f", name, check=False)
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        list(pool.map(rm, names))


def bench_memory(e, count=20):
    def settle():
        time.sleep(2)
    settle()
    services, monitors = e.daemon_pids()
    idle_rss = rss_kib(services + monitors)
    idle_distinct = distinct_kib(services + monitors)
    idle_pss = pss_kib(services + monitors)
    names = ["dybench-mem-%d-%d" % (os.getpid(), i) for i in range(count)]
    try:
        for name in names:
            e.docker("run", "-d", "--name", name, IMAGE, "sleep", "600")
        settle()
        services, monitors = e.daemon_pids()
        busy_pss = pss_kib(services + monitors)
        monitor_pss = pss_kib(monitors)
    finally:
        _remove(e, names)
    out = {"daemon processes (idle)": len(e.daemon_pids()[0]),
           "idle RSS of the daemon (MiB)": idle_rss / 1024,
           "idle resident, shared pages once (MiB)":
               idle_distinct / 1024 if idle_distinct is not None else "-",
           "idle PSS of the daemon (MiB)": idle_pss / 1024,
           "PSS with %d sleepers (MiB)" % count: busy_pss / 1024,
           "daemon PSS per running container (MiB)": (busy_pss - idle_pss) / 1024 / count}
    if monitors:
        out["monitor PSS per container (MiB)"] = monitor_pss / 1024 / max(1, len(monitors))
    return out


DOCKERFILE = """FROM busybox
ENV GREETING=hello
RUN echo "$GREETING" > /greeting && mkdir -p /app
COPY data.txt /app/data.txt
WORKDIR /app
RUN wc -c data.txt > size.txt
CMD ["cat", "/greeting"]
"""


def bench_build(e):
    tag = "dybench-build:%d" % os.getpid()
    with tempfile.TemporaryDirectory(prefix="dybench-build-") as ctx:
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write(DOCKERFILE)
        with open(os.path.join(ctx, "data.txt"), "w") as f:
            f.write("x" * 100000)
        try:
            cold = timed(lambda: e.docker("build", "--no-cache", "-q", "-t", tag, ctx))
            warm = timed(lambda: e.docker("build", "-q", "-t", tag, ctx))
        finally:
            e.docker("rmi", "-f", tag, check=False)
            e.docker("image", "prune", "-f", check=False)
    return {"docker build cold (s)": cold, "docker build warm/cached (s)": warm}


@contextlib.contextmanager
def local_registry():
    """docker-registry on 127.0.0.1:<free port>; yields "127.0.0.1:PORT" or None."""
    exe = shutil.which("docker-registry") or shutil.which("registry")
    if not exe:
        yield None
        return
    work = tempfile.mkdtemp(prefix="dybench-reg-")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    cfg = os.path.join(work, "config.yml")
    with open(cfg, "w") as f:
        f.write("version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
                "storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n"
                "http:\n  addr: 127.0.0.1:%d\n" % (os.path.join(work, "data"), port))
    log = open(os.path.join(work, "registry.log"), "wb")
    proc = subprocess.Popen([exe, "serve", cfg], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/v2/" % port, timeout=1)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    yield None
                    return
                time.sleep(0.1)
        yield "127.0.0.1:%d" % port
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def bench_pull(e, registry, mib=60, layers=3):
    if registry is None:
        return {"pull ~%d MiB image (s)" % mib: "n/a (no docker-registry)"}
    ref = "%s/dybench/big:%d" % (registry, os.getpid())
    with tempfile.TemporaryDirectory(prefix="dybench-pull-") as ctx:
        lines = ["FROM busybox"]
        for i in range(layers):
            with open(os.path.join(ctx, "blob%d" % i), "wb") as f:
                for _ in range(mib // layers):
                    f.write(os.urandom(1024 * 1024))       # random: nothing compresses
            lines.append("COPY blob%d /blob%d" % (i, i))
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write("\n".join(lines) + "\n")
        e.docker("build", "-q", "-t", ref, ctx)
    try:
        e.docker("push", ref)
        e.docker("rmi", "-f", ref)
        elapsed = timed(lambda: e.docker("pull", "-q", ref))
    finally:
        e.docker("rmi", "-f", ref, check=False)
    return {"pull ~%d MiB image, %d layers (s)" % (mib, layers): elapsed}


# ------------------------------------------------------------------------------ main

def measure(e, args, registry):
    e.ensure_image()
    results = {}
    steps = {
        "run": lambda: bench_run(e, args.n),
        "exec": lambda: bench_exec(e, args.n),
        "netattach": lambda: bench_netattach(e, args.n),
        "sdk": lambda: bench_sdk(e, args.sdk_n),
        "parallel": lambda: bench_parallel(e, args.parallel),
        "memory": lambda: bench_memory(e, args.sleepers),
        "build": lambda: bench_build(e),
        "pull": lambda: bench_pull(e, registry),
    }
    for name in args.only:
        print("  [%s] %s ..." % (e.label, name), file=sys.stderr, flush=True)
        try:
            results.update(steps[name]())
        except Exception as exc:   # a failed step still lets the others report
            results["%s: error" % name] = str(exc).strip().splitlines()[-1][:80] if str(exc).strip() else repr(exc)
    return results


def fmt(v):
    if isinstance(v, float):
        return "%.1f" % v if abs(v) >= 10 else "%.3f" % v if abs(v) < 1 else "%.2f" % v
    return str(v)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default=os.environ.get("DOCKER_HOST", "unix:///run/dockyard/docker.sock"))
    ap.add_argument("--compare", metavar="DOCKER_HOST2", help="a second engine, printed side by side")
    ap.add_argument("-n", type=int, default=10, help="repetitions for run/exec latency")
    ap.add_argument("--sdk-n", type=int, default=10, help="SDK create+start+wait+rm cycles")
    ap.add_argument("--parallel", type=int, default=30)
    ap.add_argument("--sleepers", type=int, default=20)
    ap.add_argument("--only", default=",".join(ALL), help="comma list of: " + ",".join(ALL))
    args = ap.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.only) - set(ALL)
    if unknown:
        ap.error("unknown steps: %s" % ", ".join(sorted(unknown)))
    engines = [Engine(args.host)] + ([Engine(args.compare)] if args.compare else [])
    with (local_registry() if "pull" in args.only else contextlib.nullcontext()) as registry:
        columns = [measure(e, args, registry) for e in engines]
    keys = []
    for col in columns:
        keys += [k for k in col if k not in keys]
    width = max(len(k) for k in keys) if keys else 10
    print("%-*s  %s" % (width, "", "  ".join("%22s" % e.label[-22:] for e in engines)))
    for k in keys:
        print("%-*s  %s" % (width, k, "  ".join("%22s" % fmt(col.get(k, "-")) for col in columns)))


if __name__ == "__main__":
    main()
