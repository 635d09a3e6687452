"""docker pull -a: every tag of the repository (tags/list, with Link pagination), one section per
tag, one Status line for the repository; Docker's errors."""

import pytest

from dockyard_common import errors
from dockyard_images.pull import Puller
from dockyard_images.registry import RegistryClient, RegistrySettings
from helpers import entry, make_tar
from test_registry_pull_push import publish

L1 = make_tar([entry("bin", "dir"), entry("bin/tool", data=b"tool" * 1000, mode=0o755)])
L2 = make_tar([entry("etc", "dir"), entry("etc/motd", data=b"all tags\n")])


class Events(list):
    def __call__(self, **event):
        self.append(event)

    def lines(self):
        return [(e.get("id", ""), e.get("status", "")) for e in self
                if e.get("status") in ("Pulling from test/many", "Pull complete")
                or e.get("status", "").startswith(("Digest:", "Status:"))]


def pull_all(store, ref):
    ev = Events()
    return Puller(store, RegistrySettings()).pull(ref, ev, all_tags=True), ev


def test_list_tags_follows_link_pages(registry):
    for i in range(7):
        registry.add_manifest("test/many", "t%d" % i, b'{"n":%d}' % i, "x")
    registry.tags_page = 3
    client = RegistryClient("http://" + registry.host)
    try:
        assert client.list_tags("test/many") == ["t%d" % i for i in range(7)]
    finally:
        client.close()
    assert registry.count("GET", r"/tags/list") == 3


def test_pull_all_tags_in_registry_order(store, registry):
    d1, cfg1 = publish(registry, "test/many", "b", [L1])
    d2, cfg2 = publish(registry, "test/many", "a", [L1, L2])
    publish(registry, "test/many", "c", [L1])
    registry.tags_page = 2                # two pages
    name = registry.host + "/test/many"
    result, ev = pull_all(store, name)
    assert result == ("", "")
    assert ev.lines() == [
        ("b", "Pulling from test/many"), (ev.lines()[1][0], "Pull complete"), ("", "Digest: " + d1),
        ("a", "Pulling from test/many"), (ev.lines()[4][0], "Pull complete"), ("", "Digest: " + d2),
        ("c", "Pulling from test/many"), ("", "Digest: " + d1),
        ("", "Status: Downloaded newer image for " + name)]
    assert store.get(name + ":b").id == store.get(name + ":c").id == cfg1
    assert store.get(name + ":a").id == cfg2
    assert registry.count("GET", r"^/v2/$") == 1       # one ping for all tags
    # again: nothing new
    _, ev = pull_all(store, name)
    assert ev[-1] == {"status": "Status: Image is up to date for " + name}
    # a tag moved to another image: newer
    publish(registry, "test/many", "c", [L1, L2])
    _, ev = pull_all(store, name)
    assert ev[-1] == {"status": "Status: Downloaded newer image for " + name}
    assert store.get(name + ":c").id == cfg2


def test_all_tags_only_for_a_bare_name(store, registry):
    d1, cfg1 = publish(registry, "test/many", "v1", [L1])
    publish(registry, "test/many", "v2", [L2])
    (image_id, digest), ev = pull_all(store, registry.host + "/test/many:v1")
    assert (image_id, digest) == (cfg1, d1)
    assert ev[-1]["status"] == "Status: Downloaded newer image for %s/test/many:v1" % registry.host
    assert registry.count("GET", r"/tags/list") == 0
    # without all_tags a bare name still means latest
    with pytest.raises(errors.NotFound, match="manifest for .*/test/many:latest not found"):
        Puller(store, RegistrySettings()).pull(registry.host + "/test/many", Events())


def test_pull_all_tags_errors(store, registry):
    with pytest.raises(errors.NotFound, match="^repository %s/test/none not found: name unknown"
                                              % registry.host):
        pull_all(store, registry.host + "/test/none")
    publish(registry, "test/many", "ok", [L1])
    registry.manifests[("test/many", "broken")] = (b"not json", "application/json")
    with pytest.raises(errors.Unavailable, match="invalid manifest"):
        pull_all(store, registry.host + "/test/many")
    assert store.get(registry.host + "/test/many:ok")      # the tags before the error stay


def test_an_image_already_here_downloads_nothing(store, registry):
    """As dockerd: a loaded image the registry also has is not fetched again, and its tags get
    no per-layer lines."""
    from helpers import chunks, docker_archive
    store.load(chunks(docker_archive([([L1, L2], ["local:1"], None)]), 4096))
    d1, cfg = publish(registry, "test/many", "x", [L1, L2])
    assert store.get("local:1").id == cfg
    name = registry.host + "/test/many"
    _, ev = pull_all(store, name)
    assert registry.count("GET", r"/blobs/") == 0          # not even the config
    assert [e.get("status") for e in ev] == ["Pulling from test/many", "Digest: " + d1,
                                              "Status: Downloaded newer image for " + name]
    assert store.get(name + ":x").id == cfg
