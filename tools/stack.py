"""Start, stop and demo the dockyard stack under supervisord.

    python tools/stack.py up      # start every service, load the embedded images
    python tools/stack.py down    # stop the services (running containers keep running)
    python tools/stack.py demo    # run the demo containers with the real docker CLI
    python tools/stack.py status

DOCKYARD_DATA_ROOT / DOCKYARD_STATE_ROOT choose the roots (defaults /var/lib/dockyard, /run/dockyard).
"""

import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "libs"))

from dockyard_common.paths import Layout  # noqa: E402

CONF = ROOT / "services" / "supervisord.conf"
IMAGES_DIR = ROOT / "build" / "images"
EMBEDDED = {"busybox:latest": "busybox.tar", "hello-world:latest": "hello-world.tar"}


def _env(layout):
    env = dict(os.environ)
    env.update({"DOCKYARD_DATA_ROOT": layout.data_root, "DOCKYARD_STATE_ROOT": layout.state_root,
                "DOCKYARD_PYTHON": sys.executable})
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def _supervisord_pid(layout):
    try:
        pid = int(open(os.path.join(layout.state_root, "supervisord.pid")).read())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def _wait_for_api(layout, timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(2)
            s.connect(layout.docker_socket)
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: dockyard\r\n\r\n")
            if s.recv(64).startswith(b"HTTP/1.1 200"):
                return True
        except OSError:
            pass
        finally:
            s.close()
        time.sleep(0.2)
    return False


def up(layout):
    for d in (layout.data_root, layout.state_root, os.path.join(layout.state_root, "logs")):
        os.makedirs(d, exist_ok=True)
    if _supervisord_pid(layout):
        print("dockyard: supervisord already running")
    else:
        subprocess.run([shutil.which("supervisord", path=os.path.dirname(sys.executable)) or "supervisord",
                        "-c", str(CONF)], env=_env(layout), check=True)
    if not _wait_for_api(layout):
        print("dockyard: the API did not come up; logs are in %s/logs" % layout.state_root, file=sys.stderr)
        return 1
    load_embedded_images(layout)
    print("dockyard is up: export DOCKER_HOST=unix://%s" % layout.docker_socket)
    return 0


def load_embedded_images(layout):
    """Load the embedded default images through the normal `docker load` API, when missing."""
    import docker
    api = docker.APIClient(base_url="unix://" + layout.docker_socket, version="auto", timeout=300)
    try:
        for ref, filename in EMBEDDED.items():
            try:
                api.inspect_image(ref)
                continue
            except docker.errors.ImageNotFound:
                pass
            path = IMAGES_DIR / filename
            if not path.exists():
                print("dockyard: %s missing; run `make images`" % path, file=sys.stderr)
                continue
            with open(path, "rb") as f:
                for line in api.load_image(f):
                    text = line.get("stream") or line.get("error") or ""
                    if text.strip():
                        print("dockyard: " + text.strip())
    finally:
        api.close()


def down(layout):
    if not _supervisord_pid(layout):
        print("dockyard: not running")
        return 0
    ctl = shutil.which("supervisorctl", path=os.path.dirname(sys.executable)) or "supervisorctl"
    subprocess.run([ctl, "-c", str(CONF), "shutdown"], env=_env(layout), check=False)
    deadline = time.monotonic() + 30
    while _supervisord_pid(layout) and time.monotonic() < deadline:
        time.sleep(0.2)
    print("dockyard: stopped (running containers keep running)")
    return 0


def demo(layout):
    env = dict(os.environ, DOCKER_HOST="unix://" + layout.docker_socket)
    steps = [["docker", "run", "--rm", "hello-world"],
             ["docker", "run", "--rm", "busybox", "echo", "hello from a busybox container"],
             ["docker", "images"]]
    for argv in steps:
        print("$ " + " ".join(argv), flush=True)
        rc = subprocess.run(argv, env=env).returncode
        if rc != 0:
            print("dockyard: demo step failed with exit code %d" % rc, file=sys.stderr)
            return rc
    print("\nTry it yourself:\n  export DOCKER_HOST=unix://%s\n  docker run --rm busybox echo hello"
          % layout.docker_socket)
    return 0


def status(layout):
    ctl = shutil.which("supervisorctl", path=os.path.dirname(sys.executable)) or "supervisorctl"
    return subprocess.run([ctl, "-c", str(CONF), "status"], env=_env(layout)).returncode


def main(argv):
    layout = Layout.from_env()
    commands = {"up": up, "down": down, "demo": demo, "status": status}
    if len(argv) != 2 or argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[argv[1]](layout)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
