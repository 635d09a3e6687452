import pytest

from dockyard_common import errors

from dockyard_apiserver.backend.changes import apply_changes
from dockyard_apiserver.backend import reference


def test_cmd_forms():
    assert apply_changes({}, ['CMD ["sh"]'])["Cmd"] == ["sh"]
    assert apply_changes({}, ["CMD echo hi"])["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    assert apply_changes({"Cmd": ["x"]}, ["ENTRYPOINT [\"e\"]"])["Cmd"] is None
    assert apply_changes({}, ['CMD ["a"]', 'ENTRYPOINT ["e"]'])["Cmd"] == ["a"]


def test_env_label_forms():
    cfg = apply_changes({"Env": ["A=1"]}, ['ENV A=2 B="x y"', "ENV C legacy value", "LABEL a=b c=\"d e\""])
    assert cfg["Env"] == ["A=2", "B=x y", "C=legacy value"]
    assert cfg["Labels"] == {"a": "b", "c": "d e"}


def test_misc():
    cfg = apply_changes({"WorkingDir": "/a"}, ["WORKDIR b", "USER app", "STOPSIGNAL SIGUSR1",
                                                "VOLUME /v1 /v2", 'VOLUME ["/v3"]', "ONBUILD run echo",
                                                "HEALTHCHECK --interval=5s --retries=2 CMD true"])
    assert cfg["WorkingDir"] == "/a/b" and cfg["User"] == "app" and cfg["StopSignal"] == "SIGUSR1"
    assert set(cfg["Volumes"]) == {"/v1", "/v2", "/v3"}
    assert cfg["OnBuild"] == ["RUN echo"]
    assert cfg["Healthcheck"] == {"Interval": 5_000_000_000, "Retries": 2, "Test": ["CMD-SHELL", "true"]}


def test_invalid():
    with pytest.raises(errors.InvalidArgument):
        apply_changes({}, ["FROM x"])
    with pytest.raises(errors.InvalidArgument):
        apply_changes({}, ["EXPOSE abc"])


def test_reference():
    assert str(reference.parse("busybox")) == "busybox"
    assert str(reference.parse("docker.io/library/busybox:1").with_default_tag()) == "busybox:1"
    assert str(reference.parse("localhost:5000/a/b")) == "localhost:5000/a/b"
    assert reference.parse("busybox").full_name == "docker.io/library/busybox"
    with pytest.raises(errors.InvalidArgument, match="must be lowercase"):
        reference.parse("Upper/Case")
    with pytest.raises(errors.InvalidArgument, match="invalid reference format"):
        reference.parse("bad name")
    with pytest.raises(errors.InvalidArgument, match="64-byte"):
        reference.parse("a" * 64)
    assert reference.normalize_lookup("docker.io/library/busybox") == "busybox:latest"
    assert reference.normalize_lookup("abc123") == "abc123"
    assert reference.familiar_match("conformance/*", "conformance/x:1")
    assert not reference.familiar_match("conformance/*", "conformance/x/y:1")
    assert reference.familiar_match("conformance/x:*", "conformance/x:1")
