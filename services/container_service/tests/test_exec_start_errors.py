"""A failed exec start records 126 whatever the cause, as dockerd 20.10 (its ContainerExecStart
defer); the error class still follows the message (400 for a missing/unusable command)."""

import pytest

from dockyard_common import errors
from helpers import record


@pytest.mark.parametrize("msg, cls", [
    ('exec failed: unable to start container process: exec: "nope": executable file not found '
     "in $PATH", errors.InvalidArgument),
    ('exec failed: unable to start container process: exec: "/etc": permission denied',
     errors.InvalidArgument),
    ("exec failed: unable to start container process: unable to apply caps: operation not "
     "permitted", errors.Internal),
])
def test_failed_exec_start_records_126(env, msg, cls):
    rec = env.containers.create(record())
    env.tasks.start(rec.id)
    env.tasks.exec_create(rec.id, "e1", b'{"args": ["nope"]}')
    env.shim.fail_start = "OCI runtime exec failed: " + msg
    with pytest.raises(cls):
        env.tasks.exec_start(rec.id, "e1")
    st = env.tasks.exec_get(rec.id, "e1")
    assert st["exited"] and not st["running"] and st["exit_code"] == 126
