"""Read conmon's k8s-file log as Docker log entries, streaming (never the whole file).

Each line is "<RFC3339Nano> <stdout|stderr> <F|P> <text>": F ends a line, P is a piece of a
longer line (or one without a newline yet). Entries join the pieces per stream, then a line longer
than dockerd's 16 KiB copy buffer is cut into 16384-byte messages (each its own entry, with the
line's time), as json-file and local store it: tail, since/until and follow all count those.
Rotated files may be gzipped (`ctr.log.N.gz`, --log-opt compress).
"""

import calendar
import functools
import gzip
import os
import shutil
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass

STDOUT, STDERR = 1, 2
_STREAMS = {b"stdout": STDOUT, b"stderr": STDERR}
BLOCK = 64 * 1024
PIECE_SIZE = 16 * 1024      # dockerd's log copier buffer: longer lines become several messages
GZ = ".gz"


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


def pieces(entry):
    """The messages dockerd stores for one line: <= 16 KiB each, the newline in the last."""
    data = entry.data
    if len(data) <= PIECE_SIZE:
        return [entry]
    return [Entry(entry.stream, data[i:i + PIECE_SIZE], entry.time_ns)
            for i in range(0, len(data), PIECE_SIZE)]


def _piece_count(size):
    return max(1, -(-size // PIECE_SIZE))


def _seekable(f):
    """A gzipped rotated file as a plain temporary copy (unlinked at once), for reading backwards;
    decompressed in blocks, as dockerd does for tail."""
    if not isinstance(f, gzip.GzipFile):
        return f
    tmp = tempfile.TemporaryFile()
    try:
        f.seek(0)
        shutil.copyfileobj(f, tmp, BLOCK)
    except (OSError, EOFError):
        pass        # a damaged archive: what could be read
    finally:
        f.close()
    return tmp


def tail_offset(f, n):
    """An offset from which the last n entries of one file can be read (0 for all when n < 0)."""
    return _tail_start([f], n)[1]


def _tail_start(files, n):
    """(file index, offset) from which the last n entries of the files (oldest first) can be read.

    Walks back from the end counting messages (the 16 KiB pieces of each line, an unfinished
    line too), then back over P pieces to a line boundary after an F line; the reader keeps the
    last n. A gzipped file the walk reaches is replaced in `files` by a plain copy."""
    if n < 0:
        return 0, 0
    if n == 0:
        if not files:
            return 0, 0
        files[-1] = _seekable(files[-1])
        return len(files) - 1, files[-1].seek(0, os.SEEK_END)
    done, group, candidate = 0, {}, False    # group: bytes of each stream's line so far
    for i in range(len(files) - 1, -1, -1):
        files[i] = f = _seekable(files[i])
        for start, line in _reverse_lines(f, f.seek(0, os.SEEK_END)):
            parsed = parse_line(line)
            if parsed is None:
                continue
            _, stream, partial, text = parsed
            if candidate:
                if partial:
                    continue
                return i, start + len(line) + 1
            if not partial and stream in group:     # the later line of this stream is whole
                done += _piece_count(group.pop(stream))
            group[stream] = group.get(stream, 0) + len(text) + (0 if partial else 1)
            if done + sum(_piece_count(g) for g in group.values()) > n:
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
HEAD = ".head"      # the start of dockerd's current file, before the live log (see logrotate)
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


def rotated_files(path):
    """{N: file name} of the rotated files path.N or path.N.gz (the plain one while both exist:
    compression is finishing)."""
    directory, base = os.path.split(path)
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return {}
    out = {}
    for name in names:
        if not name.startswith(base + "."):
            continue
        suffix = name[len(base) + 1:]
        number = suffix[:-len(GZ)] if suffix.endswith(GZ) else suffix
        if number.isdigit() and (number == suffix or int(number) not in out):
            out[int(number)] = os.path.join(directory, name)
    return out


def log_files(path):
    """The existing files of a log, oldest first: path.N[.gz] .. path.1[.gz], path.head,
    path.rotating, path."""
    rotated = rotated_files(path)
    out = [rotated[i] for i in sorted(rotated, reverse=True)]
    out += [p for p in (path + HEAD, path + ROTATING, path) if os.path.exists(p)]
    return out


def open_files(path):
    """Open every file of the log at once (under the rotation lock): a consistent snapshot."""
    with files_lock(path):
        files = []
        for p in log_files(path):
            try:
                files.append(gzip.GzipFile(p, "rb") if p.endswith(GZ) else open(p, "rb"))
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
                    yield from pieces(e)
            if last:
                break
            self.files[self.index].close()
            self.index += 1
        if final:
            for e in self.joiner.flush():
                yield from pieces(e)

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
