"""Health-check rules without processes: validation, merge, the state machine, the view."""

import json

import pytest

from dockyard_api.containers.v1 import containers_pb2
from dockyard_apiserver.backend import container_health as ch
from dockyard_apiserver.backend import container_views as views
from dockyard_common import errors, ids

S = ch.SECOND
T0 = 1_700_000_000 * S


def res(code, at_s=100, out=""):
    return ch.result(T0 + at_s * S, T0 + at_s * S + 1000, code, out)


def settings(**hc):
    return ch.Settings(hc)


# ------------------------------------------------------------------ configuration
@pytest.mark.parametrize("hc,message", [
    ({"Interval": -1}, "Interval in Healthcheck cannot be less than 1ms"),
    ({"Interval": 500}, "Interval in Healthcheck cannot be less than 1ms"),
    ({"Timeout": -5}, "Timeout in Healthcheck cannot be less than 1ms"),
    ({"StartPeriod": 10}, "StartPeriod in Healthcheck cannot be less than 1ms"),
    ({"Retries": -1}, "Retries in Healthcheck cannot be negative"),
    ({"Interval": 1_000_000, "Timeout": -5}, "Timeout in Healthcheck cannot be less than 1ms"),
])
def test_validate_uses_dockers_words(hc, message):
    with pytest.raises(errors.InvalidArgument) as exc:
        ch.validate(dict(hc, Test=["CMD", "true"]))
    assert str(exc.value) == message


def test_validate_accepts_zero_and_minimum():
    ch.validate(None)
    ch.validate({"Test": ["CMD", "true"], "Interval": 0, "Timeout": 1_000_000, "Retries": 0})


def test_merge_keeps_the_image_test_and_fills_zero_fields():
    image = {"Test": ["CMD-SHELL", "curl -f localhost"], "Interval": 30 * S, "Retries": 5}
    assert ch.merge(None, image) == image
    merged = ch.merge({"Interval": S}, image)
    assert merged == {"Test": ["CMD-SHELL", "curl -f localhost"], "Interval": S, "Retries": 5}
    assert ch.merge({"Test": ["NONE"]}, image)["Test"] == ["NONE"]
    assert ch.merge({"Test": ["CMD", "x"]}, None) == {"Test": ["CMD", "x"]}


def test_probe_command_forms():
    assert ch.probe_command({"Healthcheck": {"Test": ["CMD", "cat", "/f"]}}) == ["cat", "/f"]
    assert ch.probe_command({"Healthcheck": {"Test": ["CMD-SHELL", "exit 1"]}}) == ["/bin/sh", "-c", "exit 1"]
    assert ch.probe_command({"Healthcheck": {"Test": ["CMD-SHELL", "x"]}, "Shell": ["/bin/ash", "-e", "-c"]}) \
        == ["/bin/ash", "-e", "-c", "x"]
    for test in (["NONE"], [], ["BOGUS", "x"]):
        assert ch.probe_command({"Healthcheck": {"Test": test}}) is None
    assert ch.probe_command({}) is None


def test_settings_defaults():
    s = settings()
    assert (s.interval, s.timeout, s.start_period, s.retries) == (30 * S, 30 * S, 0, 3)
    s = settings(Interval=S, Timeout=2 * S, StartPeriod=3 * S, Retries=1)
    assert (s.interval, s.timeout, s.start_period, s.retries) == (S, 2 * S, 3 * S, 1)


@pytest.mark.parametrize("ns,text", [
    (500_000_000, "500ms"), (S, "1s"), (1_500_000_000, "1.5s"), (30 * S, "30s"), (90 * S, "1m30s"),
    (3600 * S, "1h0m0s"), (1_000_000, "1ms"), (1500, "1.5µs"), (12, "12ns"), (0, "0s"),
])
def test_go_duration(ns, text):
    assert ch.go_duration(ns) == text


def test_timeout_result_message():
    r = ch.timeout_result(T0, T0 + S, 500_000_000)
    assert r["ExitCode"] == -1 and r["Output"] == "Health check exceeded timeout (500ms)"


def test_output_buffer_truncates_at_4096_with_dots():
    buf = ch.OutputBuffer()
    buf.write(b"a" * 4000)
    buf.write(b"b" * 200)
    assert buf.text() == "a" * 4000 + "b" * 96 + "..."
    small = ch.OutputBuffer()
    small.write(b"hi\n")
    assert small.text() == "hi\n"


# ------------------------------------------------------------------ state machine
def test_success_makes_healthy_and_resets_streak():
    h = ch.record_result({"Status": "healthy", "FailingStreak": 2, "Log": []}, res(0), settings(), T0)
    assert h["Status"] == "healthy" and h["FailingStreak"] == 0


def test_failures_count_up_to_retries():
    s = settings(Retries=2)
    h = ch.new_health()
    h = ch.record_result(h, res(1), s, T0)
    assert (h["Status"], h["FailingStreak"]) == ("starting", 1)
    h = ch.record_result(h, res(1), s, T0)
    assert (h["Status"], h["FailingStreak"]) == ("unhealthy", 2)
    h = ch.record_result(h, res(3), s, T0)
    assert (h["Status"], h["FailingStreak"]) == ("unhealthy", 3)
    h = ch.record_result(h, res(0), s, T0)
    assert (h["Status"], h["FailingStreak"]) == ("healthy", 0)


def test_healthy_stays_healthy_until_retries_failures():
    s = settings()   # retries 3
    h = {"Status": "healthy", "FailingStreak": 0, "Log": []}
    for n in (1, 2):
        h = ch.record_result(h, res(1), s, T0)
        assert (h["Status"], h["FailingStreak"]) == ("healthy", n)
    h = ch.record_result(h, res(-1), s, T0)
    assert h["Status"] == "unhealthy"


def test_failures_inside_start_period_do_not_count():
    s = settings(StartPeriod=10 * S, Retries=1)
    h = ch.record_result(ch.new_health(), res(1, at_s=5), s, T0)
    assert (h["Status"], h["FailingStreak"]) == ("starting", 0)
    assert len(h["Log"]) == 1                      # logged all the same
    h = ch.record_result(h, res(1, at_s=11), s, T0)
    assert (h["Status"], h["FailingStreak"]) == ("unhealthy", 1)


def test_success_ends_the_start_period():
    s = settings(StartPeriod=60 * S, Retries=1)
    h = ch.record_result(ch.new_health(), res(0, at_s=2), s, T0)
    h = ch.record_result(h, res(1, at_s=3), s, T0)   # still inside the period, but it counts now
    assert (h["Status"], h["FailingStreak"]) == ("unhealthy", 1)


def test_log_keeps_the_last_five():
    h = ch.new_health()
    for i in range(8):
        h = ch.record_result(h, res(0, at_s=i, out=str(i)), settings(), T0)
    assert [e["Output"] for e in h["Log"]] == ["3", "4", "5", "6", "7"]
    assert set(h["Log"][0]) == {"Start", "End", "ExitCode", "Output"}


# ------------------------------------------------------------------ the view of a record
CONFIG = {"Healthcheck": {"Test": ["CMD", "true"]}}
RUN = "2024-01-01T00:00:00.000000001Z"


def record(running=True, paused=False, started_at=RUN, doc=None):
    rec = containers_pb2.Container(id="a" * 64, name="x", created=RUN,
                                   config_json=json.dumps(CONFIG).encode())
    rec.state.running, rec.state.paused = running, paused
    rec.state.status = "paused" if paused else ("running" if running else "exited")
    rec.state.started_at = started_at
    rec.state.finished_at = ids.ZERO_TIME if running else "2024-01-01T00:01:00Z"
    if doc is not None:
        rec.health_json = ch.dump_doc(doc[0], doc[1])
    return rec


def test_view_without_probe_or_before_first_run():
    assert ch.view(record(), {}) is None
    assert ch.view(record(), {"Healthcheck": {"Test": ["NONE"]}}) is None
    created = record(running=False, started_at=ids.ZERO_TIME)
    assert ch.view(created, CONFIG) is None


def test_view_before_the_prober_wrote():
    assert ch.view(record(), CONFIG) == {"Status": "starting", "FailingStreak": 0, "Log": []}
    # `docker run --health-cmd true busybox true`: exited before any probe (as Docker shows it).
    assert ch.view(record(running=False), CONFIG) == {"Status": "unhealthy", "FailingStreak": 0, "Log": []}


def test_view_new_run_resets_status_and_streak_keeps_log():
    log = [res(1)]
    old = ("2023-12-31T00:00:00Z", {"Status": "unhealthy", "FailingStreak": 4, "Log": log})
    assert ch.view(record(doc=old), CONFIG) == {"Status": "starting", "FailingStreak": 0, "Log": log}


def test_view_stopped_or_paused_is_unhealthy():
    doc = (RUN, {"Status": "healthy", "FailingStreak": 0, "Log": []})
    assert ch.view(record(running=False, doc=doc), CONFIG)["Status"] == "unhealthy"
    assert ch.view(record(paused=True, doc=doc), CONFIG)["Status"] == "unhealthy"
    assert ch.view(record(doc=doc), CONFIG)["Status"] == "healthy"


def test_ps_status_and_filter_words():
    now = ids.rfc3339_to_ns(RUN) + 3 * S
    doc = (RUN, {"Status": "healthy", "FailingStreak": 0, "Log": []})
    assert views.summary(record(doc=doc), now)["Status"] == "Up 3 seconds (healthy)"
    assert views.summary(record(), now)["Status"] == "Up 3 seconds (health: starting)"
    assert views.summary(record(paused=True, doc=doc), now)["Status"] == "Up 3 seconds (Paused)"
    assert ch.status_word(None) == "none" and ch.status_word(ch.new_health()) == "starting"
    with pytest.raises(errors.InvalidArgument) as exc:
        ch.check_filter(["healthy", "bogus"])
    assert str(exc.value) == "Unrecognised filter value for health: bogus"


def test_inspect_shows_health_last_in_state():
    doc = (RUN, {"Status": "healthy", "FailingStreak": 0, "Log": [res(0)]})
    state = views.inspect(record(doc=doc))["State"]
    assert list(state)[-1] == "Health" and state["Health"]["Status"] == "healthy"
    assert "Health" not in views.inspect(record(running=False, started_at=ids.ZERO_TIME))["State"]
