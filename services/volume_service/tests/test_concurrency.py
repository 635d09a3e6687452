"""Acquire, Release and Remove are atomic with respect to each other."""

import os
import threading
import time

from dockyard_common import errors

TMPFS = {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}


def _run(threads):
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive()


def test_refcounts_under_concurrent_acquire_release(store, mounter):
    store.create("shared", driver_opts=TMPFS)
    mountpoint = store.mountpoint("shared")
    failures = []

    def worker(n):
        cid = "%064x" % n
        try:
            for i in range(60):
                v = store.acquire("shared", cid)
                if cid not in v.users or mountpoint not in mounter.mounted:
                    failures.append("acquire %d/%d: %r" % (n, i, v))
                store.acquire("shared", cid)          # idempotent
                if i % 2 == 0:
                    store.release("shared", cid)
                    store.release("shared", cid)      # idempotent
        except Exception as exc:                      # pragma: no cover - reported below
            failures.append(repr(exc))

    _run([threading.Thread(target=worker, args=(n,)) for n in range(8)])
    assert failures == []
    # each worker's last iteration (i=59, odd) keeps its reference
    v = store.get("shared")
    assert v.ref_count == 8 and v.users == sorted("%064x" % n for n in range(8))
    assert mountpoint in mounter.mounted
    # mount and unmount strictly alternate: never a double mount or a stray unmount
    kinds = [k for k, _ in mounter.calls]
    assert all(a != b for a, b in zip(kinds, kinds[1:])) and kinds[0] == "mount"

    _run([threading.Thread(target=store.release, args=("shared", "%064x" % n)) for n in range(8)])
    assert store.get("shared").ref_count == 0
    assert mounter.mounted == {}


def test_remove_cannot_slip_between_acquire_and_use(store):
    stop = threading.Event()
    problems, acquired, removed = [], [0], [0]

    def user(n):
        cid = "%064x" % (100 + n)
        while not stop.is_set():
            try:
                v = store.acquire("contested", cid, create=(n % 2 == 0))
            except errors.NotFound:
                continue
            # while we hold the reference the volume and its data must stay
            if not os.path.isdir(v.mountpoint) or cid not in store.get("contested").users:
                problems.append("volume vanished under %s" % cid)
            acquired[0] += 1
            store.release("contested", cid)
            time.sleep(0.001)    # leave the remover windows where nobody holds the volume

    def remover():
        while not stop.is_set():
            try:
                store.remove("contested")
                removed[0] += 1
            except (errors.NotFound, errors.FailedPrecondition):
                pass

    threads = [threading.Thread(target=user, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=remover) for _ in range(2)]
    timer = threading.Timer(1.5, stop.set)
    timer.start()
    _run(threads)
    assert problems == []
    assert acquired[0] > 0 and removed[0] > 0
    # nothing left referenced once everyone released
    for v in store.list():
        assert v.users == []


def test_concurrent_create_of_one_name_makes_one_volume(store):
    results = []
    _run([threading.Thread(target=lambda: results.append(store.create("same").created_at))
          for _ in range(10)])
    assert len(set(results)) == 1
    assert [v.name for v in store.list()] == ["same"]


def test_prune_racing_acquire_never_removes_a_used_volume(store):
    stop = threading.Event()
    problems = []

    def user(n):
        cid = "%064x" % (200 + n)
        name = "vol%d" % n
        while not stop.is_set():
            v = store.acquire(name, cid, create=True)
            if not os.path.isdir(v.mountpoint):
                problems.append(name)
            store.release(name, cid)

    def pruner():
        while not stop.is_set():
            store.prune(all=True)

    threads = [threading.Thread(target=user, args=(n,)) for n in range(3)]
    threads.append(threading.Thread(target=pruner))
    threading.Timer(1.0, stop.set).start()
    _run(threads)
    assert problems == []
