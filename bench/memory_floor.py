#!/usr/bin/env python3
"""What one dockyard service process costs before it does anything, step by step (RSS, MiB).

    bench/memory_floor.py

Each step runs in a fresh interpreter (the same Python and MALLOC_ARENA_MAX as the stack), so
the figures add up to the floor of one gRPC service: the interpreter, `import grpc`, a started
gRPC server with the health service. Then, for each service package, the RSS after importing its
entry module. The stack's summed RSS cannot go below six times the floor. Figures only.
"""

import os
import subprocess
import sys
import tempfile

STEPS = {
    "python interpreter": "",
    "+ import grpc": "import grpc",
    "+ gRPC server with health": (
        "import grpc\nfrom concurrent import futures\n"
        "from grpc_health.v1 import health, health_pb2_grpc\n"
        "s = grpc.server(futures.ThreadPoolExecutor(4))\n"
        "health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), s)\n"
        "s.add_insecure_port('unix://' + SOCK)\ns.start()\n"),
}
SERVICES = ("dockyard_images", "dockyard_volumes", "dockyard_networks", "dockyard_shim",
            "dockyard_containers", "dockyard_apiserver")

PROBE = """
import time
SOCK = %r
%s
time.sleep(0.5)
for line in open('/proc/self/status'):
    if line.startswith('VmRSS:'):
        print(int(line.split()[1]))
"""


def rss_mib(code):
    with tempfile.TemporaryDirectory() as d:
        src = PROBE % (os.path.join(d, "s.sock"), code)
        env = dict(os.environ, MALLOC_ARENA_MAX="2")
        out = subprocess.run([sys.executable, "-c", src], env=env, check=True,
                             capture_output=True, text=True).stdout
    return int(out.split()[-1]) / 1024


def main():
    floor = 0.0
    for label, code in STEPS.items():
        floor = rss_mib(code)
        print("%-38s %6.1f" % (label, floor))
    print("%-38s %6.1f" % ("six such processes", 6 * floor))
    for pkg in SERVICES:
        print("%-38s %6.1f" % ("import %s.__main__" % pkg,
                                rss_mib("import grpc\nimport %s.__main__" % pkg)))


if __name__ == "__main__":
    main()
