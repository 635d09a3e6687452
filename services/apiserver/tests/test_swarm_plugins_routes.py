"""Swarm and plugin routes on a dockyard node: Docker's answers for a node outside a swarm and an
engine without plugins (compared with dockerd 20.10)."""

import pytest

from dockyard_apiserver.routers.swarm import NOT_A_MANAGER, NOT_IN_SWARM


@pytest.mark.parametrize("method,path", [
    ("GET", "/swarm"), ("GET", "/swarm/unlockkey"), ("POST", "/swarm/unlock"),
    ("GET", "/nodes"), ("DELETE", "/nodes/x"), ("GET", "/services"),
    ("POST", "/services/create"), ("GET", "/services/x/logs"), ("GET", "/tasks/x"),
    ("GET", "/secrets"), ("POST", "/secrets/create"), ("GET", "/v1.41/configs/x"),
])
def test_swarm_queries_say_this_node_is_not_a_manager(client, method, path):
    r = client.open(path, method=method)
    assert r.status_code == 503 and r.get_json() == {"message": NOT_A_MANAGER}


def test_leave_says_not_in_a_swarm_and_init_is_refused_plainly(client):
    r = client.post("/swarm/leave")
    assert r.status_code == 503 and r.get_json() == {"message": NOT_IN_SWARM}
    r = client.post("/swarm/init", json={"ListenAddr": "0.0.0.0:2377"})
    assert r.status_code == 501 and "not supported" in r.get_json()["message"]


def test_no_plugin_is_installed(client):
    r = client.get("/v1.41/plugins")
    assert r.status_code == 200 and r.get_json() == []
    for method, path in [("GET", "/plugins/x/json"), ("DELETE", "/plugins/x"),
                         ("POST", "/plugins/x/enable"), ("GET", "/plugins/vieux/sshfs:latest/json")]:
        r = client.open(path, method=method)
        name = path.split("/plugins/")[1].rsplit("/json", 1)[0].rsplit("/enable", 1)[0]
        assert r.status_code == 404 and r.get_json() == {"message": 'plugin "%s" not found' % name}
    r = client.post("/plugins/pull?remote=localhost:5000/p")
    assert r.status_code == 501 and r.get_json() == {"message": "plugins are not supported by dockyard"}
