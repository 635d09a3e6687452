"""The classic builder's steps, cache and messages against a fake Engine (no gRPC, no runc)."""

import hashlib
import io
import json
import tarfile
import types

import pytest

from dockyard_apiserver.build import context as build_context
from dockyard_apiserver.build.builder import Builder, BuildError, Options


def _tar(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(info)
            else:
                data = data.encode()
                info.size, info.mode = len(data), 0o644
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class FakeEngine:
    """Images in memory; RUN prints `outputs[cmd]` and exits with `codes[cmd]`."""

    def __init__(self):
        self.images = {}
        self.tags = {}
        self.outputs, self.codes = {}, {}
        self.created, self.removed, self.puts, self.released = [], [], {}, []
        base = self._add("", {"config": {"Cmd": ["sh"]}, "history": [{"created_by": "import"}]}, 1)
        self.tags["busybox:latest"] = base.id
        self.n = 0

    def _add(self, parent, cfg, layers):
        raw = json.dumps(cfg, sort_keys=True).encode()
        img = types.SimpleNamespace(id="sha256:" + hashlib.sha256(raw + str(len(self.images)).encode()).hexdigest(),
                                    parent=parent, config_json=raw, created="2024-01-01T00:00:%02dZ" % (len(self.images) % 60),
                                    chain_id="chain-%d" % layers, layers=layers)
        self.images[img.id] = img
        return img

    def image(self, ref):
        ref = self.tags.get(ref if ":" in ref or ref.startswith("sha256") else ref + ":latest", ref)
        return self.images.get(ref)

    def list_images(self):
        return list(self.images.values())

    def can_pull(self):
        return False

    def commit(self, parent_id, config, created_by, snapshot_key="", author="", container_config=None,
               empty_layer=None):
        if empty_layer is None:
            empty_layer = not snapshot_key
        parent = self.images.get(parent_id)
        pcfg = json.loads(parent.config_json) if parent else {}
        cfg = {"config": config, "container_config": container_config,
               "history": pcfg.get("history", []) + [
                   {"created_by": created_by, "empty_layer": empty_layer}]}
        if snapshot_key in dict(self.created):   # as the image service: a container's id
            cfg["container"] = snapshot_key
        return self._add(parent_id, cfg, (parent.layers if parent else 0) + (0 if empty_layer else 1))

    def tag(self, image_id, ref):
        self.tags[ref] = image_id

    def create(self, body):
        self.n += 1
        cid = "%064x" % self.n
        self.created.append((cid, body))
        return cid, []

    def start(self, cid):
        pass

    def output(self, cid):
        body = dict(self.created)[cid]
        for line in self.outputs.get(" ".join(body["Cmd"]), []):
            yield line.encode()

    def wait(self, cid):
        return self.codes.get(" ".join(dict(self.created)[cid]["Cmd"]), 0)

    def kill(self, cid):
        pass

    def remove(self, cid):
        self.removed.append(cid)

    def prepare(self, image):
        self.n += 1
        return "key%d" % self.n

    def release(self, key):
        self.released.append(key)

    def stat(self, key, path):
        return types.SimpleNamespace(mode=1 << 31) if path in ("/", "/tmp") else None

    def run_containers(self):
        """The created containers that are not a config-only step's ("#(nop) " Cmd)."""
        return [(cid, body) for cid, body in self.created if not _is_nop(body)]

    def put(self, key, path, chunks):
        data = b"".join(chunks)
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            self.puts[key] = [(m.name, m.uid, m.gid, tf.extractfile(m).read() if m.isreg() else None)
                              for m in tf]

    def get_archive(self, key, path, out):
        raise AssertionError("not used")


def _is_nop(body):
    return any(a.startswith("#(nop) ") for a in body.get("Cmd") or [])


@pytest.fixture
def engine():
    return FakeEngine()


def build(engine, files, **opts):
    ctx = build_context.receive(io.BytesIO(_tar(files)))
    messages = []
    try:
        b = Builder(engine, ctx, Options(**opts), messages.append).plan()
        try:
            image_id = b.run()
            b.cleanup(False)
        except BuildError as exc:
            b.cleanup(True)
            return exc, messages
    finally:
        ctx.close()
    return engine.images[image_id], messages


def text(messages):
    return "".join(m.get("stream", "") for m in messages)


def config(img):
    return json.loads(img.config_json)


def test_steps_config_history_and_messages(engine):
    engine.outputs["/bin/sh -c echo hi $WHO"] = ["hi bob\n"]
    img, msgs = build(engine, {"Dockerfile": "FROM busybox\nARG WHO=me\nENV A=1 B=\"x y\"\nWORKDIR /app\n"
                                             "RUN echo hi $WHO\nEXPOSE 80 53/udp\nVOLUME /data\nUSER app\n"
                                             "ENTRYPOINT [\"sh\"]\nCMD echo $A\n"},
                      buildargs={"WHO": "bob", "UNUSED": "1"}, labels={"k": "v"})
    out = text(msgs)
    assert "Step 1/11 : FROM busybox\n" in out and "Step 11/11 : LABEL" in out
    assert "hi bob\n" in out and " ---> Running in 0000000000" in out
    assert "Removing intermediate container" in out
    assert "[Warning] One or more build-args [UNUSED] were not consumed" in out
    assert {"aux": {"ID": img.id}} in msgs
    cfg = config(img)["config"]
    assert "A=1" in cfg["Env"] and "B=x y" in cfg["Env"] and not any(e.startswith("WHO=") for e in cfg["Env"])
    assert cfg["WorkingDir"] == "/app" and cfg["User"] == "app"
    assert set(cfg["ExposedPorts"]) == {"80/tcp", "53/udp"} and cfg["Volumes"] == {"/data": {}}
    assert cfg["Entrypoint"] == ["sh"] and cfg["Cmd"] == ["/bin/sh", "-c", "echo $A"]
    assert cfg["Labels"] == {"k": "v"}
    history = [h["created_by"] for h in config(img)["history"]]
    assert "/bin/sh -c #(nop)  ENV A=1 B=x y" in history
    assert "/bin/sh -c #(nop) WORKDIR /app" in history
    assert "|1 WHO=bob /bin/sh -c echo hi $WHO" in history
    assert '/bin/sh -c #(nop)  CMD ["/bin/sh" "-c" "echo $A"]' in history
    [(run_id, run_body)] = engine.run_containers()
    assert "WHO=bob" in run_body["Env"] and run_body["WorkingDir"] == "/app"
    # every step after FROM had a container, all removed (default --rm)
    assert len(engine.created) == 10 and engine.removed == [cid for cid, _ in engine.created]
    assert out.count(" ---> Running in ") == 10 and out.count("Removing intermediate container") == 10
    workdir_id = [cid for cid, body in engine.created if body["Cmd"][-1] == "#(nop) WORKDIR /app"][0]
    assert list(engine.puts) == [workdir_id]  # WORKDIR made /app in its container's layer
    assert engine.released == []              # no bare snapshot was needed


def test_each_step_records_its_container_config(engine):
    """moby's ContainerConfig: the step's config with Cmd naming the step (docker-compose reads
    an image's VOLUMEs there when it recreates a container)."""
    engine.outputs["/bin/sh -c true"] = []
    run, _ = build(engine, {"Dockerfile": "FROM busybox\nRUN true\n"})
    assert config(run)["container_config"]["Cmd"] == ["/bin/sh", "-c", "true"]
    img, _ = build(engine, {"Dockerfile": "FROM busybox\nVOLUME /data\n"})
    cc = config(img)["container_config"]
    assert cc["Volumes"] == {"/data": {}}
    assert cc["Cmd"] == ["/bin/sh", "-c", "#(nop) ", 'VOLUME [/data]']
    assert cc["Image"] == engine.tags["busybox:latest"]
    assert config(img)["config"]["Cmd"] == ["sh"]


def test_config_steps_are_committed_from_created_containers(engine):
    """moby's probeAndCreate + commitContainer: each config-only step creates (never starts) a
    container whose config is the step's, commits it (its id in the image's `container`) and
    removes it as a RUN step's; a cached step creates nothing."""
    started = []
    engine.start = started.append
    files = {"Dockerfile": "FROM busybox\nENV A=1\nLABEL k=v\nWORKDIR /tmp\nCMD [\"x\"]\n"}
    img, msgs = build(engine, files)
    assert started == []
    cids = [cid for cid, _ in engine.created]
    assert len(cids) == 4 and engine.removed == cids
    out = text(msgs)
    for cid in cids:   # "Running in" then "Removing intermediate container", then the image id
        short = cid[:12]
        assert " ---> Running in %s\nRemoving intermediate container %s\n ---> " % (short, short) in out
    env_body = engine.created[0][1]
    assert env_body["Cmd"] == ["/bin/sh", "-c", "#(nop) ", "ENV A=1"]
    assert env_body["Image"] == engine.tags["busybox:latest"] and "A=1" in env_body["Env"]
    assert env_body["HostConfig"] == {"NetworkMode": "default", "ExtraHosts": None}
    assert config(img)["container"] == cids[-1]
    cc = config(img)["container_config"]
    assert cc["Hostname"] == cids[-1][:12] and cc["Cmd"] == ["/bin/sh", "-c", "#(nop) ", 'CMD ["x"]']
    workdir = engine.images[img.parent]
    assert config(workdir)["container"] == cids[2] and workdir.layers == 1   # /tmp exists: no layer
    assert config(workdir)["history"][-1]["empty_layer"] is True
    assert engine.puts == {}
    again, msgs = build(engine, files)
    assert again.id == img.id and len(engine.created) == 4 and "Running in" not in text(msgs)


def test_config_step_containers_kept_with_rm_false_and_on_failure(engine):
    engine.codes["/bin/sh -c false"] = 1
    files = {"Dockerfile": "FROM busybox\nENV A=1\nRUN false\n"}
    err, msgs = build(engine, files, rm=False)
    assert err.code == 1 and engine.removed == [] and len(engine.created) == 2
    assert "Removing intermediate container" not in text(msgs)
    err, msgs = build(engine, files, nocache=True)        # --rm: the ENV step's goes, RUN's stays
    assert engine.removed == [engine.created[2][0]]
    err, msgs = build(engine, files, nocache=True, forcerm=True)
    assert engine.removed[1:] == [engine.created[4][0], engine.created[5][0]]


def test_scratch_first_config_step_has_no_container(engine):
    """Our containers need an image: the first step after FROM scratch commits without one."""
    img, msgs = build(engine, {"Dockerfile": "FROM scratch\nWORKDIR /w\nENV A=1\n"})
    assert len(engine.created) == 1 and text(msgs).count("Running in") == 1
    assert engine.created[0][1]["Cmd"][-1] == "ENV A=1"
    assert img.layers == 1 and list(engine.puts) == engine.released   # /w in a bare snapshot


def test_healthcheck_and_shell_history_as_dockerd(engine):
    img, _ = build(engine, {"Dockerfile": "FROM busybox\nHEALTHCHECK --interval=5s --timeout=3s "
                                          "--start-period=2h --retries=9 CMD [\"true\"]\n"
                                          "SHELL [\"/bin/sh\", \"-ec\"]\nHEALTHCHECK NONE\n"})
    history = [h["created_by"] for h in config(img)["history"]]
    assert history[-3:] == [
        '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD" "true"] "5s" "3s" "2h0m0s" \'\\t\'}',
        "/bin/sh -ec #(nop)  SHELL [/bin/sh -ec]",
        '/bin/sh -ec #(nop)  HEALTHCHECK &{["NONE"] "0s" "0s" "0s" \'\\x00\'}']


def test_second_build_uses_cache_and_copy_change_invalidates(engine):
    files = {"Dockerfile": "FROM busybox\nRUN echo one\nCOPY f /f\nRUN echo two\n", "f": "v1"}
    first, _ = build(engine, files)
    again, msgs = build(engine, files)
    assert again.id == first.id and text(msgs).count(" ---> Using cache") == 3
    assert len(engine.created) == 2
    files["f"] = "v2"
    third, msgs = build(engine, files)
    assert third.id != first.id and text(msgs).count(" ---> Using cache") == 1
    _, msgs = build(engine, files, nocache=True)
    assert "Using cache" not in text(msgs)


def test_copy_tar_layout_chown_and_add_archive(engine):
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as tf:
        info = tarfile.TarInfo("d/f")
        info.size, info.uid = 3, 7
        tf.addfile(info, io.BytesIO(b"abc"))
    files = {"Dockerfile": "FROM busybox\nCOPY --chown=1000:1000 sub/ /dst/\nCOPY *.txt /many/\n"
                           "ADD arch.tgz /opt/\n",
             "sub/": None, "sub/a": "A", "one.txt": "1", "two.txt": "2"}
    ctx_tar = _tar(files)
    buf = io.BytesIO(ctx_tar[:-1024])  # re-add the archive member by hand
    with tarfile.open(fileobj=io.BytesIO(ctx_tar)) as src, tarfile.open(fileobj=buf, mode="w") as dst:
        buf.seek(0)
        for m in src:
            dst.addfile(m, src.extractfile(m) if m.isreg() else None)
        info = tarfile.TarInfo("arch.tgz")
        info.size = len(inner.getvalue())
        dst.addfile(info, io.BytesIO(inner.getvalue()))
    ctx = build_context.receive(io.BytesIO(buf.getvalue()))
    try:
        b = Builder(engine, ctx, Options(), lambda m: None).plan()
        b.run()
    finally:
        ctx.close()
    puts = [engine.puts[k] for k in sorted(engine.puts, key=lambda k: int(k[3:]))]
    assert ("dst", 1000, 1000, None) in puts[0] and ("dst/a", 1000, 1000, b"A") in puts[0]
    assert [(n, d) for n, _, _, d in puts[1]] == [("many", None), ("many/one.txt", b"1"), ("many/two.txt", b"2")]
    assert ("opt/d/f", 7, 0, b"abc") in puts[2]


def test_failing_run_reports_code_and_forcerm(engine):
    engine.outputs["/bin/sh -c echo before && exit 7"] = ["before\n"]
    engine.codes["/bin/sh -c echo before && exit 7"] = 7
    err, msgs = build(engine, {"Dockerfile": "FROM busybox\nRUN echo before && exit 7\nRUN echo never\n"},
                      forcerm=True)
    assert isinstance(err, BuildError) and err.code == 7
    assert err.message == "The command '/bin/sh -c echo before && exit 7' returned a non-zero code: 7"
    assert "never" not in text(msgs)
    assert engine.removed == [engine.created[0][0]]


def test_failed_run_container_kept_without_forcerm(engine):
    engine.codes["/bin/sh -c false"] = 1
    err, _ = build(engine, {"Dockerfile": "FROM busybox\nRUN false\n"})
    assert err.code == 1 and engine.removed == []


def test_missing_copy_source_and_missing_base(engine):
    err, _ = build(engine, {"Dockerfile": "FROM busybox\nCOPY missing.txt /\n"})
    assert err.message.startswith("COPY failed: file not found in build context or excluded by "
                                  ".dockerignore: stat missing.txt")
    err, _ = build(engine, {"Dockerfile": "FROM nosuch\n"})
    assert "pull access denied for nosuch" in err.message


def test_multi_stage_target(engine):
    files = {"Dockerfile": "FROM busybox AS one\nRUN echo a\nFROM busybox AS two\nRUN echo b\nFROM busybox\nCMD x\n"}
    img, msgs = build(engine, files, target="two")
    assert "Step 4/4 : RUN echo b" in text(msgs)
    assert config(img)["history"][-1]["created_by"] == "/bin/sh -c echo b"
    assert sum(1 for m in msgs if "aux" in m) == 2


def test_dockerignore_is_applied_to_the_context(engine):
    ctx = build_context.receive(io.BytesIO(_tar({"Dockerfile": "FROM busybox\n", ".dockerignore": "*.log\n!keep.log\n",
                                                 "a.log": "x", "keep.log": "k", "d/": None, "d/b.log": "y"})))
    try:
        import os
        names = sorted(os.path.relpath(os.path.join(t, f), ctx.dir)
                       for t, _, fs in os.walk(ctx.dir) for f in fs)
        assert names == [".dockerignore", "Dockerfile", "d/b.log", "keep.log"]
    finally:
        ctx.close()


def test_context_forms_and_errors():
    ctx = build_context.receive(io.BytesIO(b"FROM busybox\nRUN true\n"))  # a bare Dockerfile
    assert ctx.dockerfile_text.startswith("FROM busybox")
    ctx.close()
    from dockyard_common import errors
    with pytest.raises(errors.InvalidArgument, match="Cannot locate specified Dockerfile: other"):
        build_context.receive(io.BytesIO(_tar({"Dockerfile": "FROM x\n"})), "other")
    with pytest.raises(errors.InvalidArgument, match="Cannot locate specified Dockerfile"):
        build_context.receive(io.BytesIO(_tar({"Dockerfile": "FROM x\n"})), "../../etc/passwd")
    # the docker CLI's `-f -` context has no end-of-archive blocks
    data = _tar({"Dockerfile": "FROM x\n"})
    ctx = build_context.receive(io.BytesIO(data[:512 + 512]))
    assert ctx.dockerfile_text == "FROM x\n"
    ctx.close()


def test_forcerm_removes_step_containers_even_with_rm_false(engine):
    # dockerd's dispatch removes a step's containers after it whenever ForceRemove is set
    img, msgs = build(engine, {"Dockerfile": "FROM busybox\nRUN true\n"}, rm=False, forcerm=True)
    assert engine.removed == [engine.created[0][0]]
    assert "Removing intermediate container" in text(msgs)


def test_one_arg_declares_several_names(engine):
    """dockerd 20.10: `ARG a=1 b c=3` is one step declaring three build args."""
    engine.outputs["/bin/sh -c echo $a $b $c"] = ["1 2 3\n"]
    img, msgs = build(engine, {"Dockerfile": "ARG m=0 n\nFROM busybox\nARG a=1 b c=3\nRUN echo $a $b $c\n"},
                      buildargs={"b": "2"})
    out = text(msgs)
    assert "Step 1/4 : ARG m=0 n\n" in out and "Step 3/4 : ARG a=1 b c=3\n" in out
    assert "1 2 3\n" in out and "were not consumed" not in out
    history = [h["created_by"] for h in config(img)["history"]]
    assert "/bin/sh -c #(nop)  ARG a=1 b c=3" in history
    assert "|3 a=1 b=2 c=3 /bin/sh -c echo $a $b $c" in history
