"""Debian's docker-registry (distribution v2) on 127.0.0.1:<free port>, plain HTTP (dockerd treats
127.0.0.0/8 as insecure), for integration tests; optionally with htpasswd auth."""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

from . import free_port

REGISTRY_BIN = (os.environ.get("DOCKYARD_REGISTRY_BIN") or shutil.which("docker-registry")
                or "/usr/bin/docker-registry")


class Registry:
    """`docker-registry serve` with storage in workdir; a context manager, stopped by pid.
    htpasswd: (user, bcrypt hash) to require basic auth."""

    def __init__(self, workdir, htpasswd=None, binary=REGISTRY_BIN):
        os.makedirs(workdir, exist_ok=True)
        self.workdir, self.binary = workdir, binary
        self.port = free_port()
        self.host = "127.0.0.1:%d" % self.port
        cfg = ("version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
               "storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n"
               "http:\n  addr: %s\n" % (os.path.join(workdir, "data"), self.host))
        if htpasswd:
            path = os.path.join(workdir, "htpasswd")
            with open(path, "w") as f:
                f.write("%s:%s\n" % htpasswd)
            cfg += "auth:\n  htpasswd:\n    realm: dyrealm\n    path: %s\n" % path
        self.config = os.path.join(workdir, "config.yml")
        with open(self.config, "w") as f:
            f.write(cfg)
        self.log = os.path.join(workdir, "registry.log")
        self.proc = None

    def __enter__(self):
        if not os.path.exists(self.binary):
            raise RuntimeError("docker-registry is not installed (apt-get install docker-registry)")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([self.binary, "serve", self.config], stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                with open(self.log, errors="replace") as f:
                    raise RuntimeError("docker-registry exited: %s" % f.read()[-2000:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError("docker-registry did not listen on %s" % self.host)
                time.sleep(0.1)

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def get_json(self, path):
        with urllib.request.urlopen("http://%s%s" % (self.host, path), timeout=10) as resp:
            return json.loads(resp.read())
