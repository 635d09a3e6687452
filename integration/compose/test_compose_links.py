"""compose v1 `links:` on the project network: the link alias resolves for the linking service
only (compose passes HostConfig.Links; dockerd answers them as endpoint DNS aliases)."""

COMPOSE = """\
version: "2.4"
services:
  db:
    image: busybox
    command: sleep 300
  app:
    image: busybox
    command: sleep 300
    links: ["db:database"]
"""


def test_links_alias_resolves_for_the_linking_service(make_project):
    p = make_project({"docker-compose.yml": COMPOSE})
    p("up", "-d")
    db_ip = list(p.container("db").attrs["NetworkSettings"]["Networks"].values())[0]["IPAddress"]
    app, db = p.name + "_app_1", p.name + "_db_1"
    out = p.stack.client.containers.get(app).exec_run(["nslookup", "database"])
    assert out.exit_code == 0 and ("Address: %s" % db_ip) in out.output.decode()
    assert p.stack.client.containers.get(db).exec_run(["nslookup", "database"]).exit_code != 0
    assert p.down() == {"containers": [], "networks": [], "volumes": [], "images": []}
