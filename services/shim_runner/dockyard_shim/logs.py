"""Read conmon's k8s-file log as Docker log entries, streaming (never the whole file).

Each line is "<RFC3339Nano> <stdout|stderr> <F|P> <text>": F ends a line, P is a piece of a
longer line (or one without a newline yet). Entries join the pieces per stream.
"""

import calendar
import functools
import os
import threading
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
    """An offset from which the last n entries of one file can be read (0 for all when n < 0)."""
    return _tail_start([f], n)[1]


def _tail_start(files, n):
    """(file index, offset) from which the last n entries of the files (oldest first) can be read.

    Walks back from the end counting entries (F lines, plus an unfinished P group per stream),
    then back over P pieces to a line boundary after an F line; the reader keeps the last n."""
    if n < 0:
        return 0, 0
    ends = []
    for f in files:
        f.seek(0, os.SEEK_END)
        ends.append(f.tell())
    if n == 0:
        return len(files) - 1, ends[-1] if files else 0
    count, cont, candidate = 0, set(), False
    for i in range(len(files) - 1, -1, -1):
        for start, line in _reverse_lines(files[i], ends[i]):
            parsed = parse_line(line)
            if parsed is None:
                continue
            _, stream, partial, _ = parsed
            if candidate:
                if partial:
                    continue
                return i, start + len(line) + 1
            if not partial or stream not in cont:
                count += 1
                cont.add(stream)
            if count > n:
                candidate = True
    return 0, 0


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


# -- the set of files: the live log and its rotations ---------------------------------------------
# shim-runner rotates `ctr.log` to `ctr.log.rotating` (while conmon may still append to it), asks
# conmon to reopen, then moves it to `ctr.log.1` (older ones shift to .2, ...). The rotation and
# the readers take the same lock, so a reader opens a consistent set.

ROTATING = ".rotating"
_locks = {}
_locks_guard = threading.Lock()


_changes = {}


def files_lock(path):
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


def _change(path):
    with _locks_guard:
        return _changes.setdefault(path, threading.Condition())


def notify_change(path):
    """Wake the followers of a log: it was rotated, or its writer is gone."""
    cond = _change(path)
    with cond:
        cond.notify_all()


def wait_change(path, timeout):
    """A follower's pause: until the next rotation of the log, at most timeout."""
    cond = _change(path)
    with cond:
        cond.wait(timeout)


def log_files(path):
    """The existing files of a log, oldest first: path.N .. path.1, path.rotating, path."""
    directory, base = os.path.split(path)
    try:
        names = set(os.listdir(directory))
    except FileNotFoundError:
        return []
    numbers = sorted((int(n[len(base) + 1:]) for n in names
                      if n.startswith(base + ".") and n[len(base) + 1:].isdigit()), reverse=True)
    out = ["%s.%d" % (path, i) for i in numbers]
    out += [p for p in (path + ROTATING, path) if os.path.basename(p) in names]
    return out


def open_files(path):
    """Open every file of the log at once (under the rotation lock): a consistent snapshot."""
    with files_lock(path):
        files = []
        for p in log_files(path):
            try:
                files.append(open(p, "rb"))
            except FileNotFoundError:
                pass
        return files


def _replaced(path, f):
    """True once the file f is no longer the live log and conmon has opened the new one (so it
    writes no more to f)."""
    try:
        return os.stat(path).st_ino != os.fstat(f.fileno()).st_ino
    except FileNotFoundError:
        return False


def _line_time(line):
    try:
        return parse_time(line[:line.index(b" ")])
    except (ValueError, IndexError):
        return None


class _Reader:
    """Entries from a snapshot of the files (every file but the last is complete). The joiner
    and the position (timestamp of the last line read, and how many lines had it: a buffer's lines
    share one) carry over to the next snapshot, which resumes right after them."""

    def __init__(self, files, index=0, offset=0, previous=None):
        self.files, self.index = files, index
        self.joiner = previous.joiner if previous else Joiner()
        self.last_ns = previous.last_ns if previous else None
        self.at_last = previous.at_last if previous else 0
        # a resumed snapshot skips the lines the previous one read
        self.skip = self.at_last if previous and self.last_ns is not None else None
        for i, f in enumerate(files[index:], index):
            f.seek(offset if i == index else 0)

    def _new(self, t):
        if self.skip is not None:
            if t < self.last_ns or (t == self.last_ns and self.skip > 0):
                if t == self.last_ns:
                    self.skip -= 1
                return False
            self.skip = None
        if t == self.last_ns:
            self.at_last += 1
        else:
            self.last_ns, self.at_last = t, 1
        return True

    def entries(self, final):
        while self.index < len(self.files):
            last = self.index == len(self.files) - 1
            for line in _complete_lines(self.files[self.index], final or not last):
                t = _line_time(line)
                if t is None or not self._new(t):
                    continue
                e = self.joiner.feed(line)
                if e:
                    yield e
            if last:
                break
            self.files[self.index].close()
            self.index += 1
        if final:
            yield from self.joiner.flush()

    @property
    def current(self):
        return self.files[-1] if self.index < len(self.files) else None

    def close(self):
        for f in self.files[self.index:]:
            f.close()
        self.index = len(self.files)


def read_logs(path, stdout=True, stderr=True, since_ns=0, until_ns=0, tail=-1, follow=False,
              finished=lambda: True, wait=lambda: time.sleep(0.2), is_active=lambda: True):
    """Yield Entry objects, Docker's way: tail counts entries of both streams, then the stream
    and since filters apply; until ends the stream. With follow, keep reading until finished()
    (checked before the last read so nothing written before the exit is lost) or the client
    goes away; a rotation is followed into the next file."""
    want = {STDOUT: stdout, STDERR: stderr}
    tail = -1 if tail is None else tail
    files = open_files(path)
    if not files and not follow:
        return
    reader = _Reader(files, *_tail_start(files, tail)) if files else _Reader([])
    try:
        first = True
        while True:
            done = finished() if follow else True
            batch = deque(maxlen=tail) if first and tail >= 0 else []
            if follow and (reader.current is None or _replaced(path, reader.current)):
                # Rotated (or no file yet): conmon has let go of the file; read the rest of it,
                # then go on from a new snapshot.
                batch.extend(reader.entries(False))
                reader.close()
                reader = _Reader(open_files(path), previous=reader)
            batch.extend(reader.entries(done))
            first = False
            for e in batch:
                if until_ns and e.time_ns > until_ns:
                    return
                if want[e.stream] and (not since_ns or e.time_ns >= since_ns):
                    yield e
            if done or not is_active():
                return
            wait()
    finally:
        reader.close()
