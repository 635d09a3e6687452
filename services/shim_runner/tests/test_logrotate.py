"""logrotate: Docker's max-size/max-file over conmon's log, and reading the rotated files."""

import gzip
import os
import threading

import pytest

from dockyard_common import errors
from dockyard_common.oci import LOG_DRIVER_ANNOTATION, LOG_OPTS_ANNOTATION
from dockyard_shim import logrotate, logs, logsize

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
    assert cfg("local") == logrotate.LogConfig("local", 20 * 1024 * 1024, 5, True)  # compressed
    assert not cfg("local", compress="false").compress
    assert cfg("json-file", max_size="1k", max_file="3", compress="true").compress
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


# A test line is 80 bytes in json-file (70 for the first, whose time has no fraction).

def test_json_file_size_is_dockers():
    # the first line of a rotated file written by dockerd 20.10 for `echo line-273`
    docker = b'{"log":"line-273\\n","stream":"stdout","time":"2026-11-29T00:47:47.57622928Z"}\n'
    ns = logs.parse_time("2026-11-29T00:47:47.57622928Z")
    assert logsize.json_file_size(b"line-273\n", ns) == len(docker)
    assert len(lines(2)[1]) == 55 and logsize.Sizer("json-file").feed(lines(2)[1]) == 80
    assert logsize.json_file_size(b'<"\t\xff\n', T0) == 37 + 2 + 6 + 2 + 6 + 6 + 2 + 20


def test_local_record_size_is_dockers():
    # dockerd 20.10's local driver: 28 records of `echo line-2xx` fill 1008 bytes
    ns = logs.parse_time("2026-11-29T00:47:47.57622928Z")
    assert logsize.local_size(b"line-228\n", ns) == 36
    pieces = logsize.Sizer("local")
    sizes = [pieces.feed(line(T0 + 1, "stdout", "P", b"a" * 8192)) for _ in range(4)]
    assert sizes[0] == 0 and sizes[1] > 16384 + 64          # a partial record per 16 KiB


def test_rotation_waits_for_the_monitor_to_reopen(env):
    path, bundle = env
    ctl = fake_monitor(bundle)
    rlog = logrotate.RotatingLog(path, bundle, logrotate.LogConfig("json-file", 500, 3))
    with open(path, "ab") as f:
        f.writelines(lines(10))                   # 790 bytes for dockerd
    rlog.check()
    assert os.read(ctl, 100) == b"2 0 0\n"
    assert files(path) == ["ctr.log.rotating"]
    with open(path + ".rotating", "ab") as f:     # conmon writes until it reopens
        f.writelines(lines(1, 10))
    rlog.check()
    assert files(path) == ["ctr.log.rotating"]    # no second request meanwhile
    with open(path, "ab") as f:                   # conmon's new file
        f.writelines(lines(1, 11))
    rlog.check()
    # dockerd's file ends with the line that brings it to 500 (70 + 6 * 80): lines 0-6; 7-10
    # were written on before conmon reopened, they start the current file
    assert files(path) == ["ctr.log", "ctr.log.1", "ctr.log.head"]
    assert texts(path) == [b"line %04d\n" % i for i in range(12)]
    assert [e.data for e in logs.read_logs(path + ".1")] == [b"line %04d\n" % i for i in range(7)]
    os.close(ctl)


def test_burst_is_cut_where_docker_cuts_and_old_files_dropped(env):
    path, bundle = env
    rlog = logrotate.RotatingLog(path, bundle, logrotate.LogConfig("json-file", 200, 3))
    for start in (0, 100):
        with open(path, "ab") as f:
            f.writelines(lines(100, start))
        rlog.check(alive=False)                   # no monitor: settled at once
    assert files(path) == ["ctr.log.1", "ctr.log.2", "ctr.log.head"]
    # three lines (240 bytes) per file, the current one has 198 and 199
    assert texts(path) == [b"line %04d\n" % i for i in range(192, 200)]


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
    assert texts(path) == [b"line %04d\n" % i for i in range(16, 20)]   # 2 lines per file
    assert [e.data for e in logs.read_logs(path, tail=3)] == [b"line %04d\n" % i for i in (17, 18, 19)]


def test_restore_finishes_an_interrupted_rotation(env):
    path, bundle = env
    ctl = fake_monitor(bundle)
    with open(path + ".rotating", "wb") as f:    # renamed, but the monitor was never asked
        f.writelines(lines(3))
    with open(path + ".cut0", "wb") as f:        # and a cut was interrupted
        f.write(b"partial copy")
    rlog = logrotate.RotatingLog(path, bundle, logrotate.LogConfig("json-file", 500, 2))
    rlog.check()
    assert os.read(ctl, 100) == b"2 0 0\n"
    os.close(ctl)
    rlog.check(alive=False)                      # the monitor exited meanwhile
    assert files(path) == ["ctr.log.head"]       # 230 bytes: still dockerd's current file
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


def test_compressed_rotation_gzips_shifts_and_reads_back(env):
    path, bundle = env
    rlog = logrotate.RotatingLog(path, bundle, logrotate.LogConfig("json-file", 120, 3, True))
    for i in range(10):
        with open(path, "ab") as f:
            f.writelines(lines(2, 2 * i))
        rlog.check(alive=False)
        if not os.path.exists(path):
            open(path, "wb").close()
    assert files(path) == ["ctr.log", "ctr.log.1.gz", "ctr.log.2.gz"]
    with gzip.open(path + ".1.gz") as f:
        assert f.read() == b"".join(lines(2, 18))     # 2 lines (160 bytes) per file
    got = texts(path)
    assert got == [b"line %04d\n" % i for i in range(16, 20)]
    for n in (1, 3, len(got), 100):
        assert [e.data for e in logs.read_logs(path, tail=n)] == got[-n:]
    since = [e.data for e in logs.read_logs(path, since_ns=T0 + 17)]
    assert since == [b"line %04d\n" % i for i in (17, 18, 19)]


def test_compression_never_shows_a_partial_gz_and_resumes_after_a_crash(env):
    path, bundle = env
    with open(path + ".1", "wb") as f:            # a previous run rotated but did not compress
        f.writelines(lines(3))
    with open(path + ".2.gz.tmp", "wb") as f:     # nor finish this one
        f.write(b"\x1f\x8b half")
    with open(path, "wb") as f:
        f.writelines(lines(1, 3))
    assert logs.log_files(path) == [path + ".1", path]      # the .tmp is never read
    rlog = logrotate.RotatingLog(path, bundle, logrotate.LogConfig("local", 10_000, 3, True))
    rlog.check(alive=False)
    assert files(path) == ["ctr.log", "ctr.log.1.gz"]
    assert texts(path) == [b"line %04d\n" % i for i in range(4)]


def test_a_long_line_in_a_gzipped_file_counts_its_16k_pieces(env):
    path, _ = env
    with gzip.open(path + ".1.gz", "wb") as f:
        f.write(line(T0, "stdout", "P", b"a" * 20000) + line(T0 + 1, "stdout", "F", b"b" * 20000))
    with open(path, "wb") as f:
        f.write(line(T0 + 2, "stdout", "F", b"end"))
    got = [e.data for e in logs.read_logs(path, tail=3)]
    assert [len(d) for d in got] == [16384, 40001 - 2 * 16384, 4]
