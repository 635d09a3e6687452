"""POST /build over the Flask app: HTTP errors before the stream, JSON lines after it."""

import json

import pytest

from dockyard_apiserver.routers import build as build_router

from test_build_builder import FakeEngine, _tar


@pytest.fixture
def engine(monkeypatch):
    eng = FakeEngine()
    monkeypatch.setattr(build_router, "Engine", lambda daemon: eng)
    return eng


def post(client, files, query=""):
    resp = client.post("/v1.41/build" + query, data=_tar(files), content_type="application/x-tar")
    lines = [json.loads(x) for x in resp.get_data().split(b"\r\n") if x.strip()] if resp.status_code == 200 else []
    return resp, lines


def test_build_streams_messages_and_tags(client, engine):
    resp, lines = post(client, {"Dockerfile": "FROM busybox\nCMD [\"x\"]\n"}, "?t=demo&t=other:v2")
    assert resp.status_code == 200
    image_id = engine.tags["demo:latest"]
    assert engine.tags["other:v2"] == image_id
    assert lines[0] == {"stream": "Step 1/2 : FROM busybox\n"}
    assert {"aux": {"ID": image_id}} in lines
    assert lines[-3:] == [{"stream": "Successfully built %s\n" % image_id[7:19]},
                          {"stream": "Successfully tagged demo:latest\n"},
                          {"stream": "Successfully tagged other:v2\n"}]


def test_quiet_build_prints_only_the_id(client, engine):
    _, lines = post(client, {"Dockerfile": "FROM busybox\nCMD [\"x\"]\n"}, "?q=1")
    streams = [x["stream"] for x in lines if "stream" in x]
    assert len(streams) == 1 and streams[0].startswith("sha256:")


def test_failed_step_is_an_error_message_with_code(client, engine):
    engine.codes["/bin/sh -c exit 3"] = 3
    _, lines = post(client, {"Dockerfile": "FROM busybox\nRUN exit 3\n"})
    msg = "The command '/bin/sh -c exit 3' returned a non-zero code: 3"
    assert lines[-1] == {"errorDetail": {"code": 3, "message": msg}, "error": msg}


@pytest.mark.parametrize("files,query,message", [
    ({"Dockerfile": "FROM busybox\nFROBNICATE x\n"}, "", "dockerfile parse error line 2: unknown instruction: FROBNICATE"),
    ({"Dockerfile": "FROM busybox\n"}, "?remote=https://example.com/x.git", "remote build contexts"),
    ({"Dockerfile": "FROM busybox\n"}, "?dockerfile=Nope", "Cannot locate specified Dockerfile: Nope"),
    ({"Dockerfile": "FROM busybox\n"}, "?t=Bad:Tag", "invalid reference format"),
    ({"Dockerfile": "FROM busybox AS a\n"}, "?target=b", "failed to reach build target b in Dockerfile"),
    ({"Dockerfile": "FROM busybox\n"}, "?buildargs=%7Bbad", "invalid character"),
])
def test_errors_before_the_stream_are_http_400(client, engine, files, query, message):
    resp, _ = post(client, files, query)
    assert resp.status_code == 400
    assert message in resp.get_json()["message"]


def test_build_prune(client):
    resp = client.post("/v1.41/build/prune")
    assert resp.get_json() == {"CachesDeleted": None, "SpaceReclaimed": 0}


def test_failed_quiet_build_sends_the_kept_output_first(client, engine):
    # dockerd buffers a quiet build's output and writes it before the error (the CLI prints it)
    engine.codes["/bin/sh -c exit 3"] = 3
    _, lines = post(client, {"Dockerfile": "FROM busybox\nRUN exit 3\n"}, "?q=1")
    streams = "".join(x.get("stream", "") for x in lines)
    assert "Step 1/2 : FROM busybox\n" in streams and "Step 2/2 : RUN exit 3\n" in streams
    assert lines[-1]["errorDetail"]["code"] == 3


@pytest.mark.parametrize("files,query,message", [
    ({"Dockerfile": ""}, "", "the Dockerfile (Dockerfile) cannot be empty"),
    ({"Cm": "# only a comment\n"}, "?dockerfile=Cm", "failed to parse Cm: file with no instructions"),
    ({"Dockerfile": "FROM busybox\nARG\n"}, "", "ARG requires at least one argument"),
])
def test_empty_dockerfile_messages_as_dockerd(client, engine, files, query, message):
    resp, _ = post(client, files, query)
    assert resp.status_code == 400 and resp.get_json()["message"].endswith(message)


def test_label_option_steps_print_unquoted(client, engine):
    # dockerd: one "LABEL k=v" step per --label, sorted, printed without quotes
    _, lines = post(client, {"Dockerfile": "FROM busybox\n"},
                    "?labels=" + json.dumps({"b": "x y", "a": "1"}))
    streams = [x["stream"] for x in lines if x.get("stream", "").startswith("Step")]
    assert streams[1:] == ["Step 2/3 : LABEL a=1\n", "Step 3/3 : LABEL b=x y\n"]
