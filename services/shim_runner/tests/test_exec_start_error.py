"""Docker's wording and exit code for an exec that cannot start, and runc warnings kept out of
runtime error messages."""

import pytest

from dockyard_common import errors
from dockyard_shim import runtime
from dockyard_shim.execs import ExecOps
from dockyard_shim.procs import STOPPED, ExecProc, user_error


def test_error_message_is_the_last_error_entry():
    err = (b'time="t" level=warning msg="unable to get oom kill count" error="no such file"\n'
           b'time="t" level=error msg="runc create failed: unable to apply cgroup configuration"\n')
    assert runtime.error_message(err) == "runc create failed: unable to apply cgroup configuration"
    assert runtime.error_message(b'{"level":"warning","msg":"w"}\n{"level":"error","msg":"e"}\n') == "e"


def test_user_error_classes():
    assert isinstance(user_error("p", "exec: \"x\": permission denied"), errors.InvalidArgument)
    assert isinstance(user_error("p", "boom"), errors.FailedPrecondition)
    assert isinstance(user_error("p", "boom", errors.Internal), errors.Internal)


class _Pending:
    def __init__(self, message):
        self.message = message

    def start(self):
        raise runtime.RuntimeError_(self.message)


class _Ops(ExecOps):
    def __init__(self):
        self.published = []

    def _publish(self, kind, proc):
        self.published.append((kind, proc.exit_status))


@pytest.mark.parametrize("message, cls", [
    ("exec failed: unable to start container process: unable to apply caps: operation not "
     "permitted", errors.Internal),
    ('exec failed: unable to start container process: exec: "nosuchcmd": executable file not '
     "found in $PATH", errors.InvalidArgument),
])
def test_failed_exec_start_is_dockers_message_and_126(tmp_path, message, cls):
    ops, proc = _Ops(), ExecProc("c1", "e1", str(tmp_path))
    proc.pending = _Pending(message)
    with pytest.raises(cls) as ei:
        ops._start_exec(proc)
    assert str(ei.value) == "OCI runtime exec failed: %s: unknown" % message
    assert proc.status == STOPPED and proc.exit_status == 126
    assert ops.published == [("exec_exit", 126)]
