"""One compose project (file format 2.4) exercising most of what docker-compose does, in order:
a built web service (Dockerfile HEALTHCHECK, busybox httpd) on a user network, a client that
waits for it to be healthy and reaches it by service name, a scalable worker, a named volume and
a published port; then ps/logs/exec/run/restart/stop/start/scale/config/top/pause/kill, the
restart policy, down/up keeping the volume, and `down -v --rmi local` leaving nothing.

The tests share the project and run in file order (each step builds on the previous one).
"""

import os
import re
import signal
import socket
import time
import urllib.request

import pytest

# A loop that ends at once on SIGTERM (a bare `sleep` as PID 1 ignores it: 10 s stop timeouts).
IDLE = "trap 'exit 0' TERM; while :; do sleep 1; done"

DOCKERFILE = """\
FROM busybox
RUN mkdir -p /www && echo hello-from-web > /www/index.html
HEALTHCHECK --interval=1s --timeout=2s --retries=30 CMD wget -q -O /dev/null http://127.0.0.1/ || exit 1
EXPOSE 80
CMD ["httpd", "-f", "-p", "80", "-h", "/www"]
"""

COMPOSE = """\
version: "2.4"
services:
  web:
    build: ./web
    init: true
    ports: ["127.0.0.1:{port}:80"]
    volumes: ["data:/data"]
    networks:
      back:
        aliases: [www]
    env_file: [app.env]
    environment:
      SHARED: from-compose
      PLAIN: plain-value
    restart: unless-stopped
    labels:
      org.example.role: frontend
  client:
    image: busybox
    depends_on:
      web:
        condition: service_healthy
    networks: [back]
    command: ["sh", "-c", "wget -q -O- http://web/ || echo FETCH-FAILED; echo client-ready; {idle}"]
  worker:
    image: busybox
    networks: [back]
    command: ["sh", "-c", "{idle}"]
networks:
  back:
    labels: {{org.example.net: "yes"}}
volumes:
  data: {{}}
"""

ENV_FILE = "FROM_FILE=file-value\nSHARED=from-file\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, what, timeout=30, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)


def fetch(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=5) as r:
        return r.read().decode()


def state(container):
    container.reload()
    return container.attrs["State"]


@pytest.fixture(scope="module")
def app(make_project):
    port = free_port()
    p = make_project({"docker-compose.yml": COMPOSE.format(port=port, idle=IDLE),
                      "web/Dockerfile": DOCKERFILE, "app.env": ENV_FILE})
    p.port = port
    return p


def test_up_builds_and_waits_for_health(app):
    r = app("up", "-d", "--build")
    assert "Successfully tagged %s_web:latest" % app.name in r.stdout
    img = app.stack.client.images.get(app.name + "_web")
    assert img.attrs["Config"]["Healthcheck"]["Test"][0] == "CMD-SHELL"
    # client is created only once web is healthy, so its first fetch already succeeds
    assert state(app.container("web"))["Health"]["Status"] == "healthy"
    logs = wait_for(lambda: "client-ready" in app.out("logs", "client") and app.out("logs", "client"),
                    "the client's first fetch")
    assert "hello-from-web" in logs and "FETCH-FAILED" not in logs


def test_ps_and_published_port(app):
    ps = app.out("ps")
    web_line = next(line for line in ps.splitlines() if line.startswith(app.name + "_web_1"))
    assert "Up (healthy)" in web_line and "127.0.0.1:%d->80/tcp" % app.port in web_line
    assert sorted(app.out("ps", "--services").split()) == ["client", "web", "worker"]
    assert len(app.out("ps", "-q").split()) == 3
    assert fetch(app.port) == "hello-from-web\n"
    assert app.out("port", "web", "80").strip() == "127.0.0.1:%d" % app.port


def test_service_dns_on_the_user_network(app):
    out = app.out("exec", "-T", "client", "sh", "-c",
                  "wget -q -O- http://www/ && printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc web 80")
    assert out.count("hello-from-web") == 2 and "200 OK" in out
    # the project's network, not the default bridge
    nets = app.container("client").attrs["NetworkSettings"]["Networks"]
    assert list(nets) == [app.name + "_back"]
    ip = app.container("worker").attrs["NetworkSettings"]["Networks"][app.name + "_back"]["IPAddress"]
    assert "Address: " + ip in app.out("exec", "-T", "client", "nslookup", "worker")


def test_environment_and_exec(app):
    env = dict(line.split("=", 1) for line in app.out("exec", "-T", "web", "env").splitlines())
    assert env["FROM_FILE"] == "file-value" and env["PLAIN"] == "plain-value"
    assert env["SHARED"] == "from-compose"            # environment wins over env_file
    out = app.out("exec", "-T", "-e", "EXTRA=x", "-w", "/tmp", "-u", "1000", "worker",
                  "sh", "-c", "echo $EXTRA $(pwd) $(id -u)")
    assert out.split() == ["x", "/tmp", "1000"]
    r = app("exec", "-T", "worker", "sh", "-c", "echo to-err >&2; exit 3", check=False)
    assert r.returncode == 3 and "to-err" in r.stderr


def test_logs_and_top(app):
    logs = app.out("logs", "--tail=1", "client")
    assert "client-ready" in logs and "hello-from-web" not in logs
    stamped = app.out("logs", "-t", "client").splitlines()
    assert re.match(r"client_1 +\| \d{4}-\d\d-\d\dT[\d:.]+Z client-ready$", stamped[-1]), stamped
    top = app.out("top", "web")
    assert "httpd -f -p 80 -h /www" in top and "UID" in top


def test_run_rm_is_a_oneoff_and_goes_away(app):
    r = app("run", "--rm", "-T", "-e", "X=one", "worker", "sh", "-c", "echo run $X; exit 4",
            check=False)
    assert r.returncode == 4 and "run one" in r.stdout
    assert app.containers(label=["com.docker.compose.oneoff=True"]) == []
    assert app.out("run", "--rm", "--no-deps", "-T", "client", "wget", "-q", "-O-",
                   "http://web/") == "hello-from-web\n"


def test_labels_and_filters(app):
    web = app.container("web")
    labels = web.labels
    assert labels["com.docker.compose.project"] == app.name
    assert labels["com.docker.compose.service"] == "web"
    assert labels["com.docker.compose.container-number"] == "1"
    assert labels["com.docker.compose.oneoff"] == "False"
    assert labels["com.docker.compose.project.working_dir"] == str(app.dir)
    assert labels["com.docker.compose.config-hash"] and labels["org.example.role"] == "frontend"
    assert [c.name for c in app.containers("web")] == [app.name + "_web_1"]
    assert [c.name for c in app.containers(label=["org.example.role=frontend"])] == [web.name]
    c = app.stack.client
    net = c.networks.get(app.name + "_back")
    assert net.attrs["Labels"]["com.docker.compose.network"] == "back"
    assert net.attrs["Labels"]["org.example.net"] == "yes"
    vol = c.volumes.get(app.name + "_data")
    assert vol.attrs["Labels"]["com.docker.compose.volume"] == "data"
    flt = {"label": ["com.docker.compose.project=" + app.name]}
    assert [n.name for n in c.networks.list(filters=flt)] == [net.name]
    assert [v.name for v in c.volumes.list(filters=flt)] == [vol.name]
    # a second `up` changes nothing: compose compares its config-hash label
    r = app("up", "-d")
    assert "Recreating" not in r.stderr and "is up-to-date" in r.stderr


def test_force_recreate_keeps_the_service_working(app):
    # recreating reads the image's ContainerConfig (compose 1.29 fails without it)
    old = app.container("client").id
    r = app("up", "-d", "--force-recreate", "--no-deps", "client")
    assert "Recreating %s_client_1" % app.name in r.stderr
    assert app.container("client").id != old and len(app.containers("client")) == 1
    wait_for(lambda: "client-ready" in app.out("logs", "client"), "the recreated client")


def test_restart_stop_start(app):
    worker = app.container("worker")
    started = state(worker)["StartedAt"]
    app("restart", "-t", "1", "worker")
    assert state(worker)["Running"] and state(worker)["StartedAt"] != started
    app("stop", "-t", "1", "client")
    assert "Exit 0" in app.out("ps", "client")
    app("start", "client")
    assert state(app.container("client"))["Running"]


def test_scale_up_and_down(app):
    app("up", "-d", "--scale", "worker=3")
    workers = sorted(c.name for c in app.containers("worker"))
    assert workers == ["%s_worker_%d" % (app.name, i) for i in (1, 2, 3)]
    assert sorted(c.labels["com.docker.compose.container-number"]
                  for c in app.containers("worker")) == ["1", "2", "3"]
    app("up", "-d", "--scale", "worker=2")
    assert len(app.containers("worker")) == 2


def test_pause_unpause(app):
    app("pause", "worker")
    assert all(state(c)["Paused"] for c in app.containers("worker"))
    assert app.out("ps", "worker").count("Paused") == 2
    app("unpause", "worker")
    assert all(state(c)["Running"] and not state(c)["Paused"] for c in app.containers("worker"))


def test_kill(app):
    app("kill", "worker")
    for c in app.containers("worker"):
        wait_for(lambda: not state(c)["Running"], "worker to die")
        assert state(c)["ExitCode"] == 137
    app("rm", "-f", "worker")
    assert app.containers("worker") == []


def test_restart_unless_stopped(app):
    web = app.container("web")
    pid = state(web)["Pid"]
    os.kill(pid, signal.SIGKILL)           # the process dies on its own: the policy restarts it
    wait_for(lambda: state(web)["Pid"] not in (0, pid), "web to be restarted")
    assert web.attrs["RestartCount"] >= 1
    wait_for(lambda: state(web)["Health"]["Status"] == "healthy", "web healthy again")
    assert fetch(app.port) == "hello-from-web\n"
    # `kill` is a manual stop (as with dockerd): unless-stopped leaves it down
    app("kill", "web")
    wait_for(lambda: not state(web)["Running"], "web to die")
    time.sleep(1)
    assert not state(web)["Running"] and "Exit 137" in app.out("ps", "web")
    app("start", "web")
    wait_for(lambda: state(web)["Running"], "web to start")


def test_config(app):
    cfg = app.out("config")
    assert "condition: service_healthy" in cfg and "FROM_FILE: file-value" in cfg
    assert "- 127.0.0.1:%d:80/tcp" % app.port in cfg
    assert sorted(app.out("config", "--services").split()) == ["client", "web", "worker"]
    assert app.out("config", "--volumes").split() == ["data"]


def test_named_volume_survives_down_and_up(app):
    app("exec", "-T", "web", "sh", "-c", "echo persisted > /data/file")
    app("down", "-t", "1")
    left = app.leftovers()
    assert left["containers"] == [] and left["networks"] == []
    assert left["volumes"] == [app.name + "_data"]
    app("up", "-d")
    assert app.out("exec", "-T", "web", "cat", "/data/file") == "persisted\n"
    assert fetch(app.port) == "hello-from-web\n"


def test_down_removes_everything(app):
    app("down", "-v", "--rmi", "local", "-t", "1")
    assert app.leftovers() == {"containers": [], "networks": [], "volumes": [], "images": []}
