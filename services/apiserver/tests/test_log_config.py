"""backend.log_config: Docker's create-time checks of HostConfig.LogConfig."""

import pytest

from dockyard_common import errors

from dockyard_apiserver.backend import log_config


def check(driver, opts=None):
    hc = {"LogConfig": {"Type": driver, "Config": opts}}
    log_config.validate(hc)
    return hc["LogConfig"]


def test_default_driver_is_filled_in():
    assert check("") == {"Type": "json-file", "Config": {}}
    hc = {}
    log_config.validate(hc)
    assert hc["LogConfig"] == {"Type": "json-file", "Config": {}}


def test_supported_drivers_and_their_options():
    check("json-file", {"max-size": "1k", "max-file": "3", "compress": "true", "tag": "x",
                        "labels": "a", "env": "B", "mode": "non-blocking",
                        "max-buffer-size": "4m"})
    check("local", {"max-size": "1k", "max-file": "3", "compress": "false"})
    # values are checked when the task starts (as dockerd's logger does)
    check("json-file", {"max-size": "abc", "max-file": "2"})
    check("none", {"anything": "goes", "mode": "bad"})


@pytest.mark.parametrize("driver, opts, message", [
    ("foo", {}, 'error looking up logging plugin foo: plugin "foo" not found'),
    ("json-file", {"foo": "1"}, "unknown log opt 'foo' for json-file log driver"),
    ("local", {"tag": "x"}, "unknown log opt 'tag' for log driver local"),
    ("json-file", {"mode": "bad"}, "logger: logging mode not supported: bad"),
    ("json-file", {"max-buffer-size": "4m"},
     "logger: max-buffer-size option is only supported with 'mode=non-blocking'"),
    ("json-file", {"mode": "non-blocking", "max-buffer-size": "abc"},
     "error parsing option max-buffer-size: invalid size: 'abc'"),
    ("syslog", {}, "logging driver syslog is not supported by dockyard (use json-file, local or none)"),
])
def test_refused_at_create(driver, opts, message):
    with pytest.raises(errors.InvalidArgument) as exc:
        check(driver, opts)
    assert str(exc.value) == message
