"""logrotate: Docker's max-size/max-file over conmon's log, and reading the rotated files."""

import os
import threading

import pytest

from dockyard_common import errors
from dockyard_common.oci import LOG_DRIVER_ANNOTATION, LOG_OPTS_ANNOTATION
from dockyard_shim import logrotate, logs

from test_logs import T0, line


def spec(driver, **opts):
    import json
    return {"annotations": {LOG_DRIVER_ANNOTATION: driver, LOG_OPTS_ANNOTATION: json.dumps(opts)}}


def cfg(driver, **opts):
    return logrotate.config_from_spec(spec(driver, **{k.replace("_", "-"): v for k, v in opts.items()}))


def test_config_defaults_and_values():
    assert logrotate.config_from_spec({}) == logrotate.LogConfig("json-file", -1, 1)
    assert cfg("json-file", max_size="1k", max_file="3") == logrotate.LogConfig("json-file", 1000, 3)
    assert cfg("json-file", max_size="1.5KiB").max_size == 1500
    assert cfg("json-file", max_file="2") == logrotate.LogConfig("json-file", -1, 2)  # no rotation
    assert cfg("local") == logrotate.LogConfig("local", 20 * 1024 * 1024, 5)
    assert cfg("none").driver == "none"
    one = cfg("json-file", max_size="1k")
    assert not one.rotates and one.conmon_size_max == 1000     # conmon drops the full file
    assert cfg("json-file", max_size="1k", max_file="2").conmon_size_max == -1


@pytest.mark.parametrize("driver, opts, message", [
    ("json-file", {"max_size": "abc"}, "invalid size: 'abc'"),
    ("json-file", {"max_size": "0"}, "max-size must be a positive number"),
    ("json-file", {"max_size": "-1"}, "invalid size: '-1'"),
    ("json-file", {"max_file": "0"}, "max-file cannot be less than 1"),
    ("json-file", {"max_file": "x"}, 'strconv.Atoi: parsing "x": invalid syntax'),
    ("json-file", {"compress": "true"},
     "compress cannot be true when max-file is less than 2 or max-size is not set"),
    ("json-file", {"max_size": "1k", "max_file": "2", "compress": "yes"},
     'strconv.ParseBool: parsing "yes": invalid syntax'),
    ("local", {"max_size": "abc"}, "invalid value for max-size: abc: invalid size: 'abc'"),
    ("local", {"max_file": "x"}, 'invalid value for max-file: x: strconv.Atoi: parsing "x": invalid syntax'),
    ("local", {"max_file": "1"}, "compression cannot be enabled when max file count is 1"),
    ("local", {"max_file": "-1", "compress": "false"}, "max file count cannot be less than 0"),
])
def test_bad_values_fail_like_dockers_logger(driver, opts, message):
    with pytest.raises(errors.InvalidArgument) as exc:
        cfg(driver, **opts)
    assert str(exc.value) == "failed to initialize logging driver: " + message


# -- rotation -------------------------------------------------------------------------------------

def lines(n, start=0):
    return [line(T0 + i, "stdout", "F", b"line %04d" % i) for i in range(start, start + n)]


@pytest.fixture
def env(tmp_path):
    logdir, bundle = tmp_path / "log", tmp_path / "bundle"
    logdir.mkdir()
    bundle.mkdir()
    return str(logdir / "ctr.log"), str(bundle)


def fake_monitor(bundle):
    """The reading end of the ctl fifo, as conmon holds it."""
    os.mkfifo(os.path.join(bundle, "ctl"))
    return os.open(os.path.join(bundle, "ctl"), os.O_RDONLY | os.O_NONBLOCK)


def files(path):
    return sorted(os.listdir(os.path.dirname(path)))


def texts(path):
    return [e.data for e in logs.read_logs(path)]


def test_rotation_waits_for_the_monitor_to_reopen(env):
    path, bundle = env
    ctl = fake_monitor(bundle)
    rlog = logrotate.RotatingLog(path, bundle, logrotate.LogConfig("json-file", 500, 3))
    with open(path, "ab") as f:
        f.writelines(lines(10))                   # 10 * 55 bytes > 500
    rlog.check()
    assert os.read(ctl, 100) == b"2 0 0\n"
    assert files(path) == ["ctr.log.rotating"]
    with open(path + ".rotating", "ab") as f:     # conmon writes until it reopens
        f.writelines(lines(1, 10))
    rlog.check()
    assert files(path) == ["ctr.log.rotating"]    # no second request meanwhile
    with open(path, "ab") as f:                   # conmon's new file
        f.writelines(lines(1, 11))
    rlog.check()                                  # a little past 500 bytes: kept whole
    assert files(path) == ["ctr.log", "ctr.log.1"]
    assert texts(path) == [b"line %04d\n" % i for i in range(12)]
    os.close(ctl)


def test_burst_is_cut_in_max_size_pieces_and_old_files_dropped(env):
    path, bundle = env
    rlog = logrotate.RotatingLog(path, bundle, logrotate.LogConfig("json-file", 200, 3))
    for start in (0, 100):
        with open(path, "ab") as f:
            f.writelines(lines(100, start))
        rlog.check(alive=False)                   # no monitor: settled at once
    assert files(path) == ["ctr.log.1", "ctr.log.2"]
    assert all(os.path.getsize(path + s) <= 200 for s in (".1", ".2"))
    got = texts(path)
    assert got == [b"line %04d\n" % i for i in range(200 - len(got), 200)]   # newest, in order
    assert len(got) == 6


def test_rotation_shifts_and_keeps_max_files(env):
    path, bundle = env
    rlog = logrotate.RotatingLog(path, bundle, logrotate.LogConfig("json-file", 120, 3))
    for i in range(10):
        with open(path, "ab") as f:
            f.writelines(lines(2, 2 * i))
        rlog.check(alive=False)
        if not os.path.exists(path):
            open(path, "wb").close()
    assert files(path) == ["ctr.log", "ctr.log.1", "ctr.log.2"]
    got = texts(path)                             # 4 lines (220 bytes) per rotated file
    assert got == [b"line %04d\n" % i for i in range(20 - len(got), 20)] and 8 <= len(got) <= 12
    assert [e.data for e in logs.read_logs(path, tail=3)] == [b"line %04d\n" % i for i in (17, 18, 19)]


def test_restore_finishes_an_interrupted_rotation(env):
    path, bundle = env
    ctl = fake_monitor(bundle)
    with open(path + ".rotating", "wb") as f:    # renamed, but the monitor was never asked
        f.writelines(lines(3))
    rlog = logrotate.RotatingLog(path, bundle, logrotate.LogConfig("json-file", 500, 2))
    rlog.check()
    assert os.read(ctl, 100) == b"2 0 0\n"
    os.close(ctl)
    rlog.check(alive=False)                      # the monitor exited meanwhile
    assert files(path) == ["ctr.log.1"]
    assert len(texts(path)) == 3


def test_follow_goes_on_across_rotations(env):
    path, bundle = env
    rlog = logrotate.RotatingLog(path, bundle, logrotate.LogConfig("json-file", 300, 2))
    done = threading.Event()
    step = threading.Event()

    def writer():
        for i in range(40):
            with open(path, "ab") as f:
                f.writelines(lines(1, i))
            rlog.check(alive=False)             # renames; the "monitor" reopens below
            if not os.path.exists(path):
                open(path, "wb").close()
            step.wait(0.01)
        done.set()

    open(path, "wb").close()
    t = threading.Thread(target=writer)
    t.start()
    got = [e.data for e in logs.read_logs(path, follow=True, finished=done.is_set,
                                          wait=lambda: step.wait(0.005))]
    t.join()
    assert got == [b"line %04d\n" % i for i in range(40)]


def test_reading_joins_a_line_split_across_files(tmp_path):
    path = str(tmp_path / "ctr.log")
    with open(path + ".1", "wb") as f:
        f.write(line(T0, "stdout", "P", b"hel"))
    with open(path, "wb") as f:
        f.write(line(T0 + 1, "stdout", "F", b"lo"))
    assert texts(path) == [b"hello\n"]
    assert [e.data for e in logs.read_logs(path, tail=1)] == [b"hello\n"]
