"""A compose file format 3.8 project run attached (`up --exit-code-from`): the attach stream, a
compose-file healthcheck, `service_completed_successfully`, an internal network, file secrets,
tmpfs and deploy.resources limits; then `down` leaves nothing."""

COMPOSE = """\
version: "3.8"
services:
  db:
    image: busybox
    command: ["sh", "-c", "echo db-up; trap 'exit 0' TERM; while :; do sleep 1; done"]
    healthcheck:
      test: ["CMD-SHELL", "test -e /proc/1"]
      interval: 1s
    networks: [inner]
  seed:
    image: busybox
    command: ["sh", "-c", "echo seeded > /shared/seed; echo seed-done"]
    volumes: ["shared:/shared"]
  main:
    image: busybox
    depends_on:
      db: {condition: service_healthy}
      seed: {condition: service_completed_successfully}
    command:
      - sh
      - -c
      - >-
        cat /shared/seed /run/secrets/token;
        nslookup db >/dev/null && echo db-resolves;
        grep -c ' /scratch tmpfs' /proc/mounts;
        cat /sys/fs/cgroup/memory/memory.limit_in_bytes;
        echo oops >&2; exit 3
    volumes: ["shared:/shared"]
    networks: [inner, default]
    secrets: [token]
    tmpfs: [/scratch]
    deploy:
      resources:
        limits: {memory: 32M}
networks:
  inner: {internal: true}
volumes:
  shared: {}
secrets:
  token: {file: ./token.txt}
"""


def test_attached_up_exit_code_from(make_project):
    p = make_project({"docker-compose.yml": COMPOSE, "token.txt": "s3cret\n"})
    # attached to main only: compose aborts on the first exit it sees among attached containers
    r = p("up", "--exit-code-from", "main", "main", check=False, timeout=90)
    assert r.returncode == 3, r.stdout + r.stderr
    main = [line.split("|", 1)[1].strip() for line in r.stdout.splitlines()
            if line.startswith("main_1")]
    # main ran after seed completed and db was healthy, and its stream arrived whole, in order
    assert main == ["seeded", "s3cret", "db-resolves", "1", str(32 * 1024 * 1024), "oops"]
    assert "%s_main_1 exited with code 3\nAborting on container exit..." % p.name in r.stdout
    logs = p.out("logs", "seed", "db")
    assert "seed_1  | seed-done" in logs and "db_1    | db-up" in logs
    assert p.container("db").attrs["State"]["Health"]["Status"] == "healthy"
    assert p.container("seed").attrs["State"]["ExitCode"] == 0
    inner = p.stack.client.networks.get(p.name + "_inner")
    assert inner.attrs["Internal"] is True
    assert p.down() == {"containers": [], "networks": [], "volumes": [], "images": []}
