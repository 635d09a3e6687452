"""A real stack (TestStack) with a busybox image imported through the Docker SDK, the SDK client
(.client) and the docker CLI (.cli) bound to it, for the containers, networking and volumes
integration tests."""

import os
import shutil

import docker
import pytest

from dockyard_common.testing import stack as stack_mod
from dockyard_common.testing.dockercli import DockerCLI
from dockyard_common.testing.rootfs import make_rootfs, tar_of

IMAGE = "dy-it/netvol:latest"
APPLETS = ("sh", "echo", "cat", "sleep", "true", "ls", "stat", "ip", "httpd", "wget", "nc",
           "hostname", "nslookup", "readlink", "seq", "grep")
DIRS = ("tmp", "proc", "sys", "dev")

# pytestmark of the modules that run containers on a real stack through the docker CLI.
NEEDS_REAL_STACK = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root (runc, mounts, netns)"),
                    pytest.mark.skipif(not shutil.which("docker"), reason="docker CLI missing")]


def netvol_rootfs(path):
    """busybox, /etc/passwd, and /seed (owned 1234:99, mode 0750) with a file and a symlink."""
    make_rootfs(path, DIRS, commands=APPLETS, files={"seed/file": "seeded\n"})
    seed = os.path.join(path, "seed")
    os.symlink("file", os.path.join(seed, "link"))
    for p, mode in ((seed, 0o750), (os.path.join(seed, "file"), 0o640)):
        os.chown(p, 1234, 99)
        os.chmod(p, mode)
    return path


def start(tmp_path_factory, image=IMAGE, root=None, changes=('CMD ["sh"]', "EXPOSE 80"), text=True):
    """A whole stack with image imported from the rootfs dir root (netvol_rootfs by default)."""
    if root is None:
        root = netvol_rootfs(str(tmp_path_factory.mktemp("rootfs")))
    stack = stack_mod.TestStack()
    stack.__enter__()
    try:
        client = docker.DockerClient(base_url=stack.docker_host, version="auto", timeout=60)
        repo, tag = image.rsplit(":", 1)
        client.api.import_image_from_data(tar_of(root), repository=repo, tag=tag,
                                          changes=list(changes))
        stack.client = client
        stack.cli = DockerCLI.for_stack(stack, tmp_path_factory.mktemp("cfg"), text=text)
    except BaseException:
        stack.close()
        raise
    return stack


class BusyboxImage:
    """A module's own image for conftest's `st` (set STACK_IMAGE to one): `name` imported from a
    busybox rootfs with just `applets` (rootfs: make_rootfs's passwd=, group=...), CMD ["sh"]."""

    def __init__(self, name, applets, text=True, **rootfs):
        self.name, self.applets, self.text, self.rootfs = name, applets, text, rootfs

    def start(self, tmp_path_factory):
        root = make_rootfs(str(tmp_path_factory.mktemp("rootfs")), DIRS, commands=self.applets,
                           **self.rootfs)
        return start(tmp_path_factory, self.name, root, changes=['CMD ["sh"]'], text=self.text)


def stop(stack):
    try:
        for c in stack.client.containers.list(all=True):
            c.remove(force=True, v=True)
        stack.client.close()
    finally:
        stack.close()


def cli(stack, *args, input=None, timeout=60):
    return stack.cli(*args, input=input, timeout=timeout)


def run(stack, *args):
    """docker run --rm ARGS."""
    return cli(stack, "run", "--rm", *args)


def ok(r):
    assert r.returncode == 0, r.stderr
    return r.stdout
