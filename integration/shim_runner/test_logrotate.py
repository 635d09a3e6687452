"""Log rotation (max-size/max-file) and --log-driver none against real conmon + runc, including
a shim-runner restart while the container keeps writing."""

import json
import os
import time

from dockyard_api.shim.v1 import shim_pb2
from dockyard_api.types.v1 import types_pb2
from dockyard_common import ids
from dockyard_common.oci import LOG_DRIVER_ANNOTATION, LOG_OPTS_ANNOTATION

from conftest import make_spec


def create(shim, args, driver="json-file", **opts):
    cid = ids.new_id()
    spec = json.loads(make_spec(cid, args))
    spec["annotations"] = {LOG_DRIVER_ANNOTATION: driver, LOG_OPTS_ANNOTATION: json.dumps(opts)}
    mount = types_pb2.Mount(type="bind", source=shim.rootfs, options=["rbind"])
    shim.created.append(cid)
    shim.c.Create(shim_pb2.CreateTaskRequest(id=cid, spec_json=json.dumps(spec).encode(),
                                             rootfs=[mount]))
    return cid


def logs(shim, cid, **kw):
    kw.setdefault("tail", -1)
    return [e.data for e in shim.c.Logs(shim_pb2.LogsRequest(id=cid, stdout=True, stderr=True, **kw),
                                        timeout=60)]


def numbers(datas):
    return [int(d.split()[-1]) for d in datas]


def log_names(stack, cid):
    return sorted(os.listdir(os.path.dirname(stack.layout.container_log(cid))))


def rotated_names(stack, cid):
    """The rotated files: dockerd's current file is ctr.log.head (if any) + ctr.log."""
    return set(log_names(stack, cid)) - {"ctr.log", "ctr.log.head"}


def test_rotation_keeps_the_newest_lines_in_order(shim, stack):
    cid = create(shim, ["sh", "-c", "i=0; while [ $i -lt 3000 ]; do i=$((i+1)); echo $i; done"],
                 **{"max-size": "1k", "max-file": "3"})
    shim.c.Start(shim.ref(cid))
    shim.c.Wait(shim.ref(cid), timeout=60)
    got = numbers(logs(shim, cid))
    assert got and got == list(range(3001 - len(got), 3001)) and len(got) < 200
    assert len(rotated_names(stack, cid)) <= 2
    assert numbers(logs(shim, cid, tail=4)) == [2997, 2998, 2999, 3000]


def test_rotation_survives_a_shim_restart(shim, stack):
    script = "i=0; while [ $i -lt 600 ]; do i=$((i+1)); echo line $i; sleep 0.005; done"
    cid = create(shim, ["sh", "-c", script], **{"max-size": "2k", "max-file": "3"})
    shim.c.Start(shim.ref(cid))
    time.sleep(0.5)
    stack.stop_service("shim")          # meanwhile conmon appends past max-size, nothing lost
    time.sleep(1.5)
    stack.start_service("shim")         # restore rotates the oversized file at once
    shim.c.Wait(shim.ref(cid), timeout=60)
    got = numbers(logs(shim, cid))
    assert got == list(range(601 - len(got), 601)) and 50 < len(got) < 200
    names = log_names(stack, cid)
    assert len(rotated_names(stack, cid)) <= 2
    assert all(os.path.getsize(os.path.join(os.path.dirname(stack.layout.container_log(cid)), n))
               <= 2048 + 100 for n in names)


def test_follow_while_rotating(shim):
    script = "sleep 0.5; i=0; while [ $i -lt 300 ]; do i=$((i+1)); echo line $i; sleep 0.005; done"
    # Many files: a follower slowed down by a loaded machine may lag a few rotations behind (a
    # follower more than max-file rotations behind misses lines, in Docker too).
    cid = create(shim, ["sh", "-c", script], **{"max-size": "1k", "max-file": "10"})
    shim.c.Start(shim.ref(cid))
    assert numbers(logs(shim, cid, follow=True)) == list(range(1, 301))


def test_max_file_one_keeps_at_most_max_size(shim, stack):
    cid = create(shim, ["sh", "-c", "i=0; while [ $i -lt 500 ]; do i=$((i+1)); echo $i; done"],
                 **{"max-size": "1k"})
    shim.c.Start(shim.ref(cid))
    shim.c.Wait(shim.ref(cid), timeout=60)
    got = numbers(logs(shim, cid))
    assert got and got[-1] == 500 and got == list(range(501 - len(got), 501)) and len(got) < 40
    assert log_names(stack, cid) == ["ctr.log"]


def test_log_driver_none_writes_nothing(shim, stack):
    cid = create(shim, ["sh", "-c", "echo hidden"], driver="none")
    att = shim.attach(cid)
    shim.c.Start(shim.ref(cid))
    att.collect()
    assert att.text() == b"hidden\n"       # attach still gets the output
    shim.c.Wait(shim.ref(cid), timeout=20)
    assert log_names(stack, cid) == []
    assert logs(shim, cid) == []


def test_compressed_rotation_reads_back_with_tail(shim, stack):
    cid = create(shim, ["sh", "-c", "i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); done"],
                 **{"max-size": "1k", "max-file": "3", "compress": "true"})
    shim.c.Start(shim.ref(cid))
    shim.c.Wait(shim.ref(cid), timeout=60)
    # never a .gz.tmp left; no ctr.log when the container exited before conmon reopened
    assert rotated_names(stack, cid) == {"ctr.log.1.gz", "ctr.log.2.gz"}
    got = numbers(logs(shim, cid))
    # dockerd keeps 27 of these lines: 13 (~79 bytes each) in each rotated file, 1 in the current
    # one; a time whose fraction ends in zeros is shorter, and may let a 14th line in.
    assert got == list(range(300 - len(got), 300)) and 27 <= len(got) <= 29
    assert numbers(logs(shim, cid, tail=len(got) - 2)) == got[2:]   # back into the oldest .gz
    assert numbers(logs(shim, cid, tail=3)) == [297, 298, 299]


def test_local_driver_compresses_by_default(shim, stack):
    cid = create(shim, ["sh", "-c", "i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); done"],
                 driver="local", **{"max-size": "1k", "max-file": "3"})
    shim.c.Start(shim.ref(cid))
    shim.c.Wait(shim.ref(cid), timeout=60)
    assert rotated_names(stack, cid) == {"ctr.log.1.gz", "ctr.log.2.gz"}
    assert numbers(logs(shim, cid, tail=2)) == [298, 299]


def test_tail_counts_the_16k_pieces_of_a_long_line(shim):
    cid = create(shim, ["sh", "-c", "head -c 40000 /dev/zero | tr '\\0' a; echo; echo end"])
    shim.c.Start(shim.ref(cid))
    shim.c.Wait(shim.ref(cid), timeout=60)
    assert [len(d) for d in logs(shim, cid)] == [16384, 16384, 7233, 4]
    assert logs(shim, cid, tail=2) == [b"a" * 7232 + b"\n", b"end\n"]      # as dockerd
    assert [len(d) for d in logs(shim, cid, tail=3)] == [16384, 7233, 4]
