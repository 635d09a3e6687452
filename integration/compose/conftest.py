"""docker-compose (Debian's 1.29, the unchanged client) against a whole dockyard stack.

One private stack (TestStack) for the session with the embedded busybox image loaded through
`docker load`. Each test module runs its compose project in a temp dir under a unique project
name; `Project.down()` runs `docker-compose down -v --rmi local` and reports what is left.
"""

import os
import pathlib
import shutil
import subprocess
import sys
import uuid

import docker
import pytest

from dockyard_common.testing.stack import TestStack

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROJECT_LABEL = "com.docker.compose.project"


def compose_binary():
    path = shutil.which("docker-compose")
    if not path:
        # CI installs it (Makefile deps): a missing client is a failure, never a skip.
        pytest.fail("docker-compose is not installed: `apt-get install docker-compose` "
                    "(the Makefile's deps target installs it)", pytrace=False)
    return path


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("integration tests run as root", pytrace=False)
    compose_binary()
    images = tmp_path_factory.mktemp("images")
    subprocess.run([sys.executable, str(ROOT / "tools" / "make_default_images.py"), str(images)],
                   check=True, capture_output=True)
    with TestStack() as s:
        s.cli_env = dict(os.environ, DOCKER_HOST=s.docker_host, DOCKER_CLI_HINTS="false",
                         DOCKER_CONFIG=str(tmp_path_factory.mktemp("docker-config")))
        s.cli_env.pop("DOCKER_API_VERSION", None)
        subprocess.run(["docker", "load", "-i", str(images / "busybox.tar")], env=s.cli_env,
                       check=True, capture_output=True, timeout=120)
        s.client = docker.DockerClient(base_url=s.docker_host, version="auto", timeout=60)
        try:
            yield s
        finally:
            s.client.close()


class Project:
    """A compose project in its own directory; calling it runs `docker-compose -p NAME ...`."""

    def __init__(self, stack, workdir, files):
        self.stack, self.dir = stack, pathlib.Path(workdir)
        self.name = "dyc" + uuid.uuid4().hex[:8]
        for rel, text in files.items():
            path = self.dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        # The classic builder through the API (compose's own build path), as CI users set it.
        self.env = dict(stack.cli_env, DOCKER_BUILDKIT="0", COMPOSE_DOCKER_CLI_BUILD="0")
        self.env.pop("COMPOSE_API_VERSION", None)
        self.binary = compose_binary()

    def __call__(self, *args, check=True, timeout=120):
        r = subprocess.run([self.binary, "--ansi", "never", "-p", self.name] + [str(a) for a in args],
                           cwd=self.dir, env=self.env, capture_output=True, text=True,
                           timeout=timeout)
        if check:
            assert r.returncode == 0, "docker-compose %s -> %d\n%s%s\n--- apiserver log:\n%s" % (
                " ".join(map(str, args)), r.returncode, r.stdout, r.stderr,
                self.stack.log_text("apiserver")()[-3000:])
        return r

    def out(self, *args, **kw):
        return self(*args, **kw).stdout

    def containers(self, service=None, **filters):
        labels = ["%s=%s" % (PROJECT_LABEL, self.name)]
        if service:
            labels.append("com.docker.compose.service=" + service)
        filters["label"] = labels + filters.get("label", [])
        return self.stack.client.containers.list(all=True, filters=filters)

    def container(self, service, number=1):
        return self.stack.client.containers.get("%s_%s_%d" % (self.name, service, number))

    def leftovers(self):
        """Everything of the project that dockyard still has, by compose's labels and names."""
        c = self.stack.client
        flt = {"label": "%s=%s" % (PROJECT_LABEL, self.name)}
        return {
            "containers": [x.name for x in c.containers.list(all=True, filters=flt)],
            "networks": [n.name for n in c.networks.list(filters=flt)],
            "volumes": [v.name for v in c.volumes.list(filters=flt)],
            "images": [t for i in c.images.list() for t in i.tags if t.startswith(self.name + "_")],
        }

    def down(self):
        """`down -v --rmi local`; returns the leftovers (all lists empty when clean)."""
        self("down", "-v", "--rmi", "local", "-t", "1", check=False)
        return self.leftovers()


@pytest.fixture(scope="module")
def make_project(stack, tmp_path_factory):
    """make_project(files) -> Project; every project made is torn down at the module's end."""
    made = []

    def make(files):
        p = Project(stack, tmp_path_factory.mktemp("compose"), files)
        made.append(p)
        return p
    yield make
    left = {p.name: p.down() for p in made}
    dirty = {name: rest for name, rest in left.items() if any(rest.values())}
    assert not dirty, "compose projects left resources behind: %r" % dirty
