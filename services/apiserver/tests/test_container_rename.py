"""docker rename checks in dockerd's order (daemon/rename.go): the container first, then the name."""

from container_fakes import Daemon, create

FAKE_DAEMON = Daemon    # conftest's fixtures over the container world


def test_unknown_container_is_reported_before_an_invalid_name(client):
    r = client.post("/containers/nosuch/rename?name=y")
    assert r.status_code == 404 and r.get_json()["message"] == "No such container: nosuch"


def test_same_and_invalid_names(client):
    create(client, name="r1")
    r = client.post("/containers/r1/rename?name=r1")
    assert r.status_code == 400
    assert r.get_json()["message"] == "Renaming a container with the same name as its current name"
    r = client.post("/containers/r1/rename?name=y")
    assert r.status_code == 400 and r.get_json()["message"].startswith("Invalid container name (y)")
    assert client.post("/containers/r1/rename?name=r2").status_code == 204
