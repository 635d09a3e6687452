"""The docker CLI bound to one daemon (a TestStack's socket, or any DOCKER_HOST), for integration
tests. (Not named docker.py: tests import the docker SDK under that name.)"""

import os
import subprocess

from . import rootfs


def cli_env(host, config_dir, **extra):
    """The environment of a docker CLI that talks to host only, with its own config dir."""
    env = dict(os.environ, DOCKER_HOST=host, DOCKER_CONFIG=str(config_dir),
               DOCKER_CLI_HINTS="false", **extra)
    env.pop("DOCKER_API_VERSION", None)      # let the CLI negotiate, as against dockerd
    return env


class DockerCLI:
    """run(*args) -> CompletedProcess, with .out and .err as text. check=True asserts a zero exit
    status; text=True gives str stdout/stderr instead of bytes."""

    def __init__(self, host, config_dir, binary="docker", check=False, timeout=60, text=False,
                 **extra_env):
        self.env = cli_env(host, config_dir, **extra_env)
        self.binary, self.check, self.timeout, self.text = binary, check, timeout, text

    @classmethod
    def for_stack(cls, stack, config_dir, **kw):
        return cls(stack.docker_host, config_dir, **kw)

    def __call__(self, *args, input=None, timeout=None, check=None, binary=None):
        r = subprocess.run([binary or self.binary] + [str(a) for a in args], env=self.env,
                           input=input, capture_output=True, timeout=timeout or self.timeout,
                           text=self.text)
        if self.text:
            r.out, r.err = r.stdout, r.stderr
        else:
            r.out = r.stdout.decode(errors="replace")
            r.err = r.stderr.decode(errors="replace")
        if self.check if check is None else check:
            assert r.returncode == 0, (args, r.out, r.err)
        return r


def import_rootfs(cli, path, ref, changes=('CMD ["sh"]',)):
    """`docker import` the directory at path (see rootfs.make_rootfs) as ref with cli (a
    DockerCLI); returns ref."""
    args = [cli.binary, "import"]
    for change in changes:
        args += ["--change", change]
    r = subprocess.run(args + ["-", ref], env=cli.env, input=rootfs.tar_of(path),
                       capture_output=True, timeout=max(cli.timeout, 120))
    assert r.returncode == 0, (ref, r.stdout, r.stderr)
    return ref
