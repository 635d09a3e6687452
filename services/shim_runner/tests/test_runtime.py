import pytest

from dockyard_common import errors
from dockyard_shim import runtime


def test_error_message_logfmt():
    err = (b'time="2024-01-01T00:00:00Z" level=error msg="runc create failed: unable to start container '
           b'process: exec: \\"nosuch\\": executable file not found in $PATH"\n')
    assert runtime.error_message(err) == ('runc create failed: unable to start container process: exec: '
                                          '"nosuch": executable file not found in $PATH')


def test_error_message_json_and_plain():
    assert runtime.error_message(b'{"level":"error","msg":"boom","time":"x"}\n') == "boom"
    assert runtime.error_message("container does not exist\n") == "container does not exist"


def test_resolve(tmp_path):
    rt = runtime.resolve("", str(tmp_path), "runc")
    assert isinstance(rt, runtime.Runc) and rt.global_args() == ["--root=" + str(tmp_path)]
    with pytest.raises(errors.InvalidArgument):
        runtime.resolve("nosuch-runtime", str(tmp_path))


def test_fake_records_calls():
    f = runtime.Fake()
    f.start("a")
    f.kill("a", 9, True)
    assert f.calls == [("start", "a"), ("kill", "a", 9, True)]
    assert f.state("a")["status"] == "running"


def test_update_passes_resources_on_stdin(tmp_path):
    # A stand-in runtime that records its arguments and stdin.
    script = tmp_path / "runc"
    script.write_text("#!/bin/sh\necho \"$@\" > %s/args\ncat > %s/stdin\n" % (tmp_path, tmp_path))
    script.chmod(0o755)
    rt = runtime.Runc(str(script), str(tmp_path / "root"))
    rt.update("c1", {"pids": {"limit": 5}})
    assert (tmp_path / "args").read_text().split() == ["--root=" + str(tmp_path / "root"), "update",
                                                       "--resources", "-", "c1"]
    assert (tmp_path / "stdin").read_text() == '{"pids": {"limit": 5}}'
