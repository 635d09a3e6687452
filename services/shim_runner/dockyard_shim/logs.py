"""Read conmon's k8s-file log as Docker log entries, streaming (never the whole file).

Each line is "<RFC3339Nano> <stdout|stderr> <F|P> <text>": F ends a line, P is a piece of a
longer line (or one without a newline yet). Entries join the pieces per stream.
"""

import calendar
import functools
import os
import time
from collections import deque
from dataclasses import dataclass

STDOUT, STDERR = 1, 2
_STREAMS = {b"stdout": STDOUT, b"stderr": STDERR}
BLOCK = 64 * 1024


@dataclass
class Entry:
    stream: int
    data: bytes
    time_ns: int


@functools.lru_cache(maxsize=4096)
def _base_seconds(base):
    return calendar.timegm((int(base[0:4]), int(base[5:7]), int(base[8:10]),
                            int(base[11:13]), int(base[14:16]), int(base[17:19]), 0, 0, 0))


def parse_time(ts):
    """RFC 3339 with nanoseconds and a zone ("Z" or ±hh:mm) to unix nanoseconds."""
    s = ts.decode("ascii") if isinstance(ts, bytes) else ts
    secs = _base_seconds(s[:19])
    rest, frac = s[19:], 0
    if rest.startswith("."):
        i = 1
        while i < len(rest) and rest[i].isdigit():
            i += 1
        frac = int((rest[1:i] + "000000000")[:9])
        rest = rest[i:]
    if rest and rest[0] in "+-":
        off = int(rest[1:3]) * 3600 + int(rest[4:6]) * 60
        secs -= off if rest[0] == "+" else -off
    return secs * 1_000_000_000 + frac


def format_time(ns):
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + ".%09d+00:00" % frac


def parse_line(line):
    """(time_ns, stream, partial, text) for one log line (without its newline), None if malformed."""
    parts = line.split(b" ", 3)
    if len(parts) < 3 or parts[1] not in _STREAMS:
        return None
    try:
        t = parse_time(parts[0])
    except (ValueError, IndexError):
        return None
    return t, _STREAMS[parts[1]], parts[2] == b"P", parts[3] if len(parts) > 3 else b""


def _reverse_lines(f, end):
    """(offset, line) from the end of the file backwards, newlines stripped."""
    pos, tail = end, b""
    while pos > 0:
        size = min(BLOCK, pos)
        pos -= size
        f.seek(pos)
        chunk = f.read(size) + tail
        lines = chunk.split(b"\n")
        cur_end = pos + len(chunk)
        for line in reversed(lines[1:]):
            start = cur_end - len(line)
            if line:
                yield start, line
            cur_end = start - 1
        tail = lines[0]
    if tail:
        yield 0, tail


def tail_offset(f, n):
    """An offset from which the last n entries can be read (0 for all when n < 0).

    Walks back from the end counting entries (F lines, plus an unfinished P group per stream),
    then back over P pieces to a line boundary after an F line; the reader keeps the last n."""
    f.seek(0, os.SEEK_END)
    end = f.tell()
    if n < 0:
        return 0
    if n == 0:
        return end
    count, cont, candidate = 0, set(), None
    for start, line in _reverse_lines(f, end):
        parsed = parse_line(line)
        if parsed is None:
            continue
        _, stream, partial, _ = parsed
        if candidate is not None:
            if partial:
                continue
            return start + len(line) + 1
        if not partial or stream not in cont:
            count += 1
            cont.add(stream)
        if count > n:
            candidate = start
    return 0


class Joiner:
    """Joins partial pieces per stream into entries."""

    def __init__(self):
        self.pending = {STDOUT: None, STDERR: None}

    def feed(self, line):
        parsed = parse_line(line.rstrip(b"\n"))
        if parsed is None:
            return None
        t, stream, partial, text = parsed
        held = self.pending[stream]
        if partial:
            self.pending[stream] = (held[0], held[1] + [text]) if held else (t, [text])
            return None
        self.pending[stream] = None
        if held:
            return Entry(stream, b"".join(held[1]) + text + b"\n", held[0])
        return Entry(stream, text + b"\n", t)

    def flush(self):
        """Unfinished lines once the writer is done: entries without a newline."""
        out = []
        for stream in (STDOUT, STDERR):
            held, self.pending[stream] = self.pending[stream], None
            if held:
                out.append(Entry(stream, b"".join(held[1]), held[0]))
        return sorted(out, key=lambda e: e.time_ns)


def _complete_lines(f, final):
    """Complete lines from the current position; a line still being written is left for later
    unless the writer is done (final)."""
    while True:
        line = f.readline()
        if not line:
            return
        if not line.endswith(b"\n") and not final:
            f.seek(-len(line), os.SEEK_CUR)
            return
        yield line


def read_logs(path, stdout=True, stderr=True, since_ns=0, until_ns=0, tail=-1, follow=False,
              finished=lambda: True, wait=lambda: time.sleep(0.2), is_active=lambda: True):
    """Yield Entry objects, Docker's way: tail counts entries of both streams, then the stream
    and since filters apply; until ends the stream. With follow, keep reading until finished()
    (checked before the last read so nothing written before the exit is lost) or the client
    goes away."""
    want = {STDOUT: stdout, STDERR: stderr}
    tail = -1 if tail is None else tail
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return
    joiner = Joiner()
    with f:
        f.seek(tail_offset(f, tail))
        first = True
        while True:
            done = finished() if follow else True
            batch = deque(maxlen=tail) if first and tail >= 0 else []
            for line in _complete_lines(f, done):
                e = joiner.feed(line)
                if e:
                    batch.append(e)
            if done:
                batch.extend(joiner.flush())
            first = False
            for e in batch:
                if until_ns and e.time_ns > until_ns:
                    return
                if want[e.stream] and (not since_ns or e.time_ns >= since_ns):
                    yield e
            if done or not is_active():
                return
            wait()
