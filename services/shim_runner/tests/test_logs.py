import io
import threading
import time

from dockyard_shim import logs


def line(ns, stream, tag, text):
    secs, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    return b"%s.%09d+00:00 %s %s %s\n" % (base.encode(), frac, stream.encode(), tag.encode(), text)


T0 = 1_700_000_000_000_000_000


def write(path, lines):
    with open(path, "wb") as f:
        f.writelines(lines)


def read(path, **kw):
    return [(e.stream, e.data) for e in logs.read_logs(str(path), **kw)]


def test_parse_time_zones():
    assert logs.parse_time("2023-11-14T22:13:20.000000001+00:00") == T0 + 1
    assert logs.parse_time("2023-11-14T23:13:20.5+01:00") == T0 + 500_000_000
    assert logs.parse_time("2023-11-14T22:13:20Z") == T0


def test_full_and_partial_lines(tmp_path):
    p = tmp_path / "ctr.log"
    write(p, [line(T0, "stdout", "P", b"hel"), line(T0 + 1, "stderr", "F", b"err"),
              line(T0 + 2, "stdout", "F", b"lo"), line(T0 + 3, "stdout", "F", b""),
              line(T0 + 4, "stdout", "P", b"tail")])
    assert read(p) == [(2, b"err\n"), (1, b"hello\n"), (1, b"\n"), (1, b"tail")]
    assert read(p, stderr=False) == [(1, b"hello\n"), (1, b"\n"), (1, b"tail")]
    entries = list(logs.read_logs(str(p)))
    assert entries[1].time_ns == T0     # a joined line carries its first piece's time


def test_tail(tmp_path):
    p = tmp_path / "ctr.log"
    write(p, [line(T0 + i, "stdout", "F", b"l%d" % i) for i in range(1000)])
    assert read(p, tail=3) == [(1, b"l997\n"), (1, b"l998\n"), (1, b"l999\n")]
    assert read(p, tail=0) == []
    assert len(read(p, tail=-1)) == 1000
    assert len(read(p, tail=5000)) == 1000


def test_tail_with_partials(tmp_path):
    p = tmp_path / "ctr.log"
    write(p, [line(T0, "stdout", "F", b"a"), line(T0 + 1, "stdout", "P", b"b1"),
              line(T0 + 2, "stdout", "P", b"b2"), line(T0 + 3, "stdout", "F", b"b3"),
              line(T0 + 4, "stdout", "P", b"c")])
    assert read(p, tail=2) == [(1, b"b1b2b3\n"), (1, b"c")]
    assert read(p, tail=1) == [(1, b"c")]


def test_tail_reads_backwards_in_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(logs, "BLOCK", 100)
    p = tmp_path / "ctr.log"
    write(p, [line(T0 + i, "stdout", "F", b"x" * (i % 7) + b"%d" % i) for i in range(300)])
    got = [d for _, d in read(p, tail=2)]
    assert got == [b"x" * (298 % 7) + b"298\n", b"x" * (299 % 7) + b"299\n"]


def test_since_until(tmp_path):
    p = tmp_path / "ctr.log"
    write(p, [line(T0 + i * 1000, "stdout", "F", b"%d" % i) for i in range(10)])
    assert [d for _, d in read(p, since_ns=T0 + 7000)] == [b"7\n", b"8\n", b"9\n"]
    assert [d for _, d in read(p, until_ns=T0 + 1000)] == [b"0\n", b"1\n"]
    # tail first, then since (as Docker)
    assert [d for _, d in read(p, tail=2, since_ns=T0 + 8500)] == [b"9\n"]


def test_follow_until_finished(tmp_path):
    p = tmp_path / "ctr.log"
    write(p, [line(T0, "stdout", "F", b"first")])
    done = threading.Event()

    def writer():
        time.sleep(0.2)
        with open(p, "ab") as f:
            f.write(line(T0 + 1, "stdout", "F", b"second")[:20])   # a line half written
            f.flush()
            time.sleep(0.2)
            f.write(line(T0 + 1, "stdout", "F", b"second")[20:])
            f.write(line(T0 + 2, "stderr", "P", b"last"))
        done.set()
    threading.Thread(target=writer).start()
    got = read(p, follow=True, finished=done.is_set, wait=lambda: time.sleep(0.05))
    assert got == [(1, b"first\n"), (1, b"second\n"), (2, b"last")]


def test_missing_file_is_empty(tmp_path):
    assert read(tmp_path / "nope.log") == []


def test_tail_offset_bytesio():
    data = b"".join(line(T0 + i, "stdout", "F", b"%d" % i) for i in range(5))
    f = io.BytesIO(data)
    off = logs.tail_offset(f, 2)
    assert data[off:].count(b"\n") == 3   # one spare entry; the reader keeps the last n


def test_long_lines_are_16k_messages_for_tail_since_and_follow(tmp_path):
    p = tmp_path / "ctr.log"
    long = [line(T0 + i, "stdout", "P", b"a" * 8192) for i in range(4)]
    write(p, long + [line(T0 + 4, "stdout", "P", b"a" * 7232), line(T0 + 5, "stdout", "F", b""),
                     line(T0 + 6, "stderr", "F", b"err"), line(T0 + 7, "stdout", "F", b"end")])
    sizes = [len(d) for _, d in read(p)]
    assert sizes == [16384, 16384, 7233, 4, 4]          # 40000 bytes and a newline: 3 messages
    assert [len(d) for _, d in read(p, tail=2)] == [4, 4]
    assert [len(d) for _, d in read(p, tail=3)] == [7233, 4, 4]
    assert [len(d) for _, d in read(p, tail=4)] == [16384, 7233, 4, 4]
    assert [len(d) for _, d in read(p, tail=4, stderr=False)] == [16384, 7233, 4]
    assert [len(d) for _, d in read(p, since_ns=T0, until_ns=T0 + 1)] == [16384, 16384, 7233]
    assert [len(d) for _, d in read(p, follow=True)] == sizes
    entries = list(logs.read_logs(str(p)))
    assert {e.time_ns for e in entries[:3]} == {T0}      # every piece has the line's time


def test_a_line_of_exactly_16k_ends_with_an_empty_message(tmp_path):
    p = tmp_path / "ctr.log"
    write(p, [line(T0, "stdout", "F", b"x" * 16384)])
    assert read(p) == [(1, b"x" * 16384), (1, b"\n")]
    assert read(p, tail=1) == [(1, b"\n")]
