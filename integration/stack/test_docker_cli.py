"""The foundation issue's user story, end to end with the real docker CLI and docker-py."""

import json

import docker


def test_run_rm_prints_hello(docker_cli):
    r = docker_cli("run", "--rm", "busybox", "echo", "hello")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello\n"


def test_exit_code_reaches_the_cli(docker_cli):
    r = docker_cli("run", "--rm", "busybox", "sh", "-c", "exit 3")
    assert r.returncode == 3, r.stderr


def test_hello_world_explains_itself(docker_cli):
    r = docker_cli("run", "--rm", "hello-world")
    assert r.returncode == 0, r.stderr
    assert b"Hello from dockyard!" in r.stdout


def test_ps_inspect_rm(docker_cli):
    r = docker_cli("run", "--name", "dy-stack-keep", "busybox", "true")
    assert r.returncode == 0, r.stderr
    ps = docker_cli("ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout.decode()
    assert any(l.startswith("dy-stack-keep Exited (0)") for l in ps.splitlines()), ps
    info = json.loads(docker_cli("inspect", "dy-stack-keep").stdout)[0]
    assert info["State"]["Status"] == "exited" and info["State"]["ExitCode"] == 0
    assert info["Config"]["Cmd"] == ["true"]
    assert docker_cli("rm", "dy-stack-keep").returncode == 0
    assert docker_cli("inspect", "dy-stack-keep").returncode != 0


def test_images_version_info(docker_cli):
    images = docker_cli("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.decode().split()
    assert "busybox:latest" in images and "hello-world:latest" in images
    assert docker_cli("version").returncode == 0
    assert docker_cli("info").returncode == 0


def test_docker_sdk_run(stack):
    client = docker.DockerClient(base_url=stack.docker_host, version="auto")
    try:
        assert client.containers.run("busybox", "echo hi", remove=True) == b"hi\n"
    finally:
        client.close()
