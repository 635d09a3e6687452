"""A real stack (TestStack) with a small busybox image and the docker CLI bound to it, for the
networking and volumes integration tests."""

import io
import os
import subprocess
import tarfile

import docker

from dockyard_common.testing import stack as stack_mod

BUSYBOX = "/bin/busybox"
IMAGE = "dy-it/netvol:latest"
APPLETS = ("sh", "echo", "cat", "sleep", "true", "ls", "stat", "ip", "httpd", "wget", "nc",
           "hostname", "nslookup", "readlink", "seq", "grep")


def _add(tar, name, kind=tarfile.REGTYPE, mode=0o644, data=b"", uid=0, gid=0, link=""):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.uid, ti.gid, ti.linkname = kind, mode, uid, gid, link
    ti.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def rootfs_tar():
    """busybox, /etc/passwd, and /seed (owned 1234:99, mode 0750) with a file and a symlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "etc", "tmp", "proc", "sys", "dev"):
            _add(tar, d, tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755)
        with open(BUSYBOX, "rb") as f:
            _add(tar, "bin/busybox", mode=0o755, data=f.read())
        for applet in APPLETS:
            _add(tar, "bin/" + applet, tarfile.SYMTYPE, link="busybox")
        _add(tar, "etc/passwd", data=b"root:x:0:0:root:/root:/bin/sh\n")
        _add(tar, "seed", tarfile.DIRTYPE, 0o750, uid=1234, gid=99)
        _add(tar, "seed/file", mode=0o640, data=b"seeded\n", uid=1234, gid=99)
        _add(tar, "seed/link", tarfile.SYMTYPE, link="file")
    return buf.getvalue()


def start(tmp_path_factory):
    stack = stack_mod.TestStack()
    stack.__enter__()
    try:
        client = docker.DockerClient(base_url=stack.docker_host, version="auto", timeout=60)
        client.api.import_image_from_data(rootfs_tar(), repository=IMAGE.split(":")[0],
                                          tag="latest", changes=['CMD ["sh"]', "EXPOSE 80"])
        stack.client = client
        stack.cli_env = dict(os.environ, DOCKER_HOST=stack.docker_host, DOCKER_CLI_HINTS="false",
                             DOCKER_CONFIG=str(tmp_path_factory.mktemp("cfg")))
        stack.cli_env.pop("DOCKER_API_VERSION", None)
    except BaseException:
        stack.close()
        raise
    return stack


def stop(stack):
    try:
        for c in stack.client.containers.list(all=True):
            c.remove(force=True, v=True)
        stack.client.close()
    finally:
        stack.close()


def cli(stack, *args, timeout=60):
    r = subprocess.run(["docker"] + [str(a) for a in args], env=stack.cli_env,
                       capture_output=True, timeout=timeout, text=True)
    return r
