"""A whole dockyard stack on a private root, with the embedded images loaded through `docker load`."""

import os
import pathlib
import subprocess
import sys

import pytest

from dockyard_common.testing.stack import TestStack

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def images_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("images")
    subprocess.run([sys.executable, str(ROOT / "tools" / "make_default_images.py"), str(out)], check=True)
    return out


@pytest.fixture(scope="session")
def stack(images_dir, tmp_path_factory):
    with TestStack() as s:
        s.cli_env = dict(os.environ, DOCKER_HOST=s.docker_host,
                         DOCKER_CONFIG=str(tmp_path_factory.mktemp("docker-config")))
        for name in ("busybox.tar", "hello-world.tar"):
            subprocess.run(["docker", "load", "-i", str(images_dir / name)], env=s.cli_env,
                           check=True, capture_output=True, timeout=120)
        yield s


@pytest.fixture
def docker_cli(stack):
    def run(*args, input=None, timeout=60):
        return subprocess.run(["docker"] + list(args), env=stack.cli_env, input=input,
                              capture_output=True, timeout=timeout)
    return run
