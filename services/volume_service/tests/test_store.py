import os

import pytest

from dockyard_common import errors, ids
from dockyard_volumes.store import VolumeStore

TMPFS = {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}
C1, C2 = "c1" * 32, "c2" * 32


# create / get -------------------------------------------------------------------------------

def test_create_makes_data_dir_and_record(store, root):
    v = store.create("data", labels={"purpose": "test"})
    assert v.name == "data" and v.driver == "local" and v.scope == "local"
    assert v.mountpoint == os.path.join(root, "data", "_data")
    assert os.path.isdir(v.mountpoint)
    assert v.labels == {"purpose": "test"} and v.options == {}
    assert ids.rfc3339_to_ns(v.created_at) > 0
    assert v.ref_count == 0 and v.users == [] and not v.anonymous
    assert store.get("data") == v
    assert os.path.exists(os.path.join(root, "volume.db"))


def test_create_without_name_generates_hex_name(store):
    v = store.create(anonymous=True)
    assert len(v.name) == 64 and v.anonymous


def test_create_is_idempotent_and_keeps_the_original(store):
    first = store.create("data", labels={"a": "1"})
    with open(os.path.join(first.mountpoint, "f"), "w") as f:
        f.write("keep")
    again = store.create("data", labels={"b": "2"})
    assert again == first
    assert os.path.exists(os.path.join(again.mountpoint, "f"))


def test_create_rejects_bad_names_and_options(store, root):
    with pytest.raises(errors.InvalidArgument, match="too short"):
        store.create("x")
    with pytest.raises(errors.InvalidArgument, match="invalid characters"):
        store.create("../etc")
    with pytest.raises(errors.InvalidArgument, match='invalid option: "foo"'):
        store.create("good", driver_opts={"foo": "bar"})
    assert store.list() == []
    assert sorted(os.listdir(root)) == [n for n in sorted(os.listdir(root)) if n.startswith("volume.db")]


def test_unknown_driver_is_not_found(store):
    with pytest.raises(errors.NotFound, match='plugin "nfsx" not found'):
        store.create("data", driver="nfsx")
    store.create("data", driver="local")


def test_get_missing_has_dockers_message(store):
    with pytest.raises(errors.NotFound) as ei:
        store.get("nope")
    assert str(ei.value) == "get nope: no such volume"


# list ------------------------------------------------------------------------------------------

def test_list_filters(store):
    store.create("aa", labels={"team": "x", "tier": "db"})
    store.create("bb", labels={"team": "y"})
    store.create("cc")
    store.acquire("cc", C1)
    assert [v.name for v in store.list()] == ["aa", "bb", "cc"]
    assert [v.name for v in store.list({"team": ""})] == ["aa", "bb"]
    assert [v.name for v in store.list({"team": "x"})] == ["aa"]
    assert [v.name for v in store.list({"team=y": ""})] == ["bb"]
    assert [v.name for v in store.list({"team": "", "tier": "db"})] == ["aa"]
    assert [v.name for v in store.list(dangling_only=True)] == ["aa", "bb"]
    assert [v.name for v in store.list({"team": "y"}, dangling_only=True)] == ["bb"]


# remove ----------------------------------------------------------------------------------------

def test_remove_deletes_record_and_data(store):
    v = store.create("data")
    store.remove("data")
    assert not os.path.exists(os.path.dirname(v.mountpoint))
    with pytest.raises(errors.NotFound):
        store.get("data")


def test_remove_missing(store):
    with pytest.raises(errors.NotFound, match="get nope: no such volume"):
        store.remove("nope")
    store.remove("nope", force=True)      # -f only ignores "not found"


def test_remove_in_use_is_refused_even_with_force(store):
    store.create("data")
    store.acquire("data", C2)
    store.acquire("data", C1)
    for force in (False, True):
        with pytest.raises(errors.FailedPrecondition) as ei:
            store.remove("data", force=force)
        assert str(ei.value) == "remove data: volume is in use - [%s, %s]" % (C1, C2)
    store.release("data", C1)
    store.release("data", C2)
    store.remove("data")


def test_remove_unmounts_a_stale_mount_before_deleting(store, mounter):
    v = store.create("data", driver_opts=TMPFS)
    mounter.mounted[v.mountpoint] = "stale"
    store.remove("data")
    assert mounter.mounted == {}
    assert ("unmount", v.mountpoint) in mounter.calls


def test_remove_never_deletes_through_a_mount(store, mounter):
    v = store.create("data")
    mounter.mounted[os.path.join(v.mountpoint, "sub")] = "bind"    # something else mounted inside
    with pytest.raises(errors.Internal, match="still has mounts"):
        store.remove("data")
    assert store.get("data")
    with pytest.raises(errors.Internal):
        store.remove("data", force=True)   # -f purges the record, never the data
    assert os.path.isdir(v.mountpoint)
    with pytest.raises(errors.NotFound):
        store.get("data")


# prune -----------------------------------------------------------------------------------------

def test_prune_keeps_volumes_in_use_and_named_ones_unless_all(store):
    anon_unused = store.create(anonymous=True).name
    anon_used = store.acquire("", C1, create=True).name
    store.create("named")
    with open(os.path.join(store.mountpoint(anon_unused), "f"), "wb") as f:
        f.write(b"x" * 1000)
    removed, space = store.prune()
    assert removed == [anon_unused] and space == 1000
    assert {v.name for v in store.list()} == {anon_used, "named"}
    removed, _ = store.prune(all=True)
    assert removed == ["named"]
    assert [v.name for v in store.list()] == [anon_used]


def test_prune_with_label_filter(store):
    store.create("keep1", labels={"other": "1"})
    store.create("gone1", labels={"set": "a"})
    store.create("used1", labels={"set": "a"})
    store.acquire("used1", C1)
    removed, _ = store.prune({"set": "a"}, all=True)
    assert removed == ["gone1"]
    assert store.prune({"set": "a"}, all=True) == ([], 0)
    removed, _ = store.prune({"!other": ""}, all=True)
    assert removed == []
    assert {v.name for v in store.list()} == {"keep1", "used1"}


def test_prune_counts_hard_links_once(store):
    v = store.create("data")
    a = os.path.join(v.mountpoint, "a")
    with open(a, "wb") as f:
        f.write(b"y" * 500)
    os.link(a, os.path.join(v.mountpoint, "b"))
    os.makedirs(os.path.join(v.mountpoint, "d"))
    with open(os.path.join(v.mountpoint, "d", "c"), "wb") as f:
        f.write(b"z" * 20)
    assert store.prune(all=True) == (["data"], 520)


# acquire / release -----------------------------------------------------------------------------

def test_acquire_is_idempotent_per_container(store):
    store.create("data")
    assert store.acquire("data", C1).users == [C1]
    assert store.acquire("data", C1).ref_count == 1
    v = store.acquire("data", C2)
    assert v.users == [C1, C2] and v.ref_count == 2
    store.release("data", C1)
    store.release("data", C1)
    assert store.get("data").users == [C2]
    store.release("data", C2)
    store.release("gone", C2)            # missing volume: nothing to do
    assert store.get("data").ref_count == 0


def test_acquire_missing_without_create(store):
    with pytest.raises(errors.NotFound, match="get data: no such volume"):
        store.acquire("data", C1)
    with pytest.raises(errors.InvalidArgument):
        store.acquire("data", "", create=True)


def test_acquire_creates_named_and_anonymous(store):
    v = store.acquire("data", C1, create=True, labels={"l": "v"})
    assert v.name == "data" and v.labels == {"l": "v"} and not v.anonymous and v.users == [C1]
    anon = store.acquire("", C1, create=True)
    assert len(anon.name) == 64 and anon.anonymous and os.path.isdir(anon.mountpoint)
    with pytest.raises(errors.InvalidArgument, match="too short"):
        store.acquire("x", C1, create=True)
    opt = store.acquire("tmp", C1, create=True, driver_opts=TMPFS)
    assert opt.options == TMPFS


def test_mount_options_mount_on_first_acquire_and_unmount_on_last_release(store, mounter):
    v = store.create("data", driver_opts=TMPFS)
    assert mounter.mounted == {}
    store.acquire("data", C1)
    assert list(mounter.mounted) == [v.mountpoint]
    store.acquire("data", C2)
    store.acquire("data", C1)
    assert mounter.calls == [("mount", v.mountpoint)]
    store.release("data", C1)
    assert v.mountpoint in mounter.mounted
    store.release("data", C2)
    assert mounter.mounted == {}
    assert mounter.calls[-1] == ("unmount", v.mountpoint)


def test_failed_mount_leaves_no_reference(store, mounter):
    store.create("data", driver_opts={"type": "none", "o": "bind", "device": "/nonexistent"})
    mounter.fail_mount = True
    with pytest.raises(errors.Internal, match="error while mounting volume"):
        store.acquire("data", C1)
    assert store.get("data").users == []
    store.remove("data")


def test_plain_volumes_are_never_mounted(store, mounter):
    store.create("data")
    store.acquire("data", C1)
    store.release("data", C1)
    assert mounter.calls == []


# restart ---------------------------------------------------------------------------------------

def test_restart_keeps_volumes_and_references(root, mounter):
    s = VolumeStore(root, mounter=mounter)
    s.create("data", labels={"a": "b"}, driver_opts=TMPFS)
    s.acquire("data", C1)
    s.acquire("anon" * 16, C2, create=True, anonymous=True)
    s.close()
    s2 = VolumeStore(root, mounter=mounter)
    s2.reconcile()
    v = s2.get("data")
    assert v.users == [C1] and v.labels == {"a": "b"} and v.options == TMPFS
    assert s2.get("anon" * 16).anonymous
    with pytest.raises(errors.FailedPrecondition):
        s2.remove("data")
    s2.close()


def test_reconcile_remounts_used_and_unmounts_unused(root, mounter):
    s = VolumeStore(root, mounter=mounter)
    used = s.create("used", driver_opts=TMPFS)
    unused = s.create("unused", driver_opts=TMPFS)
    s.acquire("used", C1)
    mounter.mounted.pop(used.mountpoint)            # e.g. someone unmounted it meanwhile
    mounter.mounted[unused.mountpoint] = "leftover"  # e.g. crash before the last release finished
    s.close()
    s2 = VolumeStore(root, mounter=mounter)
    s2.reconcile()
    assert list(mounter.mounted) == [used.mountpoint]
    s2.close()


def test_reconcile_recreates_missing_data_dir(root, mounter):
    s = VolumeStore(root, mounter=mounter)
    v = s.create("data")
    os.rmdir(v.mountpoint)
    s.reconcile()
    assert os.path.isdir(v.mountpoint)
    s.close()
