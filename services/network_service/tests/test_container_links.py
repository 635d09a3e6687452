"""Container links in the manager: hosts lines on the default bridge (rewritten when the target
joins again) and per-container DNS aliases on user networks (fake kernel)."""

from dockyard_networks import dnsrecords

PARENT, TARGET, OTHER, FILL = "a" * 64, "b" * 64, "c" * 64, "d" * 64


def hosts(manager, cid):
    return open(manager.endpoints(cid)[0]["hosts_path"]).read()


def test_default_bridge_link_is_a_hosts_line_following_the_target(manager):
    t = manager.attach(TARGET, "bridge", container_name="lk", hostname="tgthost")
    manager.attach(PARENT, "bridge", container_name="p", links=[TARGET + ":al", TARGET + ":lk"])
    text = hosts(manager, PARENT)
    assert "%s\tal tgthost lk\n%s\tlk tgthost\n" % (t["ip"], t["ip"]) in text
    assert text.index("\tal ") < text.index("\t" + PARENT[:12])  # before its own line (Docker)
    manager.detach(TARGET, "bridge")
    manager.attach(FILL, "bridge")  # takes the target's old address
    again = manager.attach(TARGET, "bridge", container_name="lk")
    assert again["ip"] != t["ip"]
    assert "%s\tal tgthost lk\n" % again["ip"] in hosts(manager, PARENT)


def test_missing_target_writes_no_line(manager):
    manager.attach(PARENT, "bridge", links=[TARGET + ":al"])
    assert "\tal" not in hosts(manager, PARENT)


def test_user_network_link_is_an_alias_of_the_linking_container_only(manager):
    manager.create("app")
    t = manager.attach(TARGET, "app", container_name="db")
    manager.attach(PARENT, "app", container_name="web", links=["db:database"])
    manager.attach(OTHER, "app", container_name="other")
    rec = dnsrecords.build(manager.store.networks(), manager.store.endpoints(),
                           manager.store.sandboxes())
    assert rec.lookup(PARENT, "database.") == [t["ip"]]
    assert rec.lookup(PARENT, "database.app.") == [t["ip"]]
    assert rec.lookup(OTHER, "database.") is None
    assert "\tdatabase" not in hosts(manager, PARENT)


def test_alias_shadows_a_name_and_needs_its_target():
    rec = dnsrecords.Records()
    rec.views["p"] = [("net", {"db": ["10.0.0.2"], "web": ["10.0.0.3"]}, {})]
    rec.links["p"] = {"net": {"web": "db", "gone": "nosuch"}}
    assert rec.lookup("p", "web") == ["10.0.0.2"]
    assert rec.lookup("p", "gone") is None
