"""`--log-opt max-size/max-file` for the json-file and local drivers (Docker's loggerutils rotate).

conmon writes the k8s-file log and cannot rotate: its --log-size-max replaces the full file with
an empty one (the old content is dropped). That is Docker's behaviour for max-file=1, so conmon
does it then. For max-file >= 2 shim-runner rotates, watching the log directory with inotify:
  1. `ctr.log` has reached max-size: rename it `ctr.log.rotating` (conmon keeps appending to it
     through its open descriptor, nothing is lost) and ask conmon to reopen (ctl message 2).
  2. conmon creates a fresh `ctr.log`; it has let go of the old file, which is final now. Move it
     to `ctr.log.1`, older ones shift to .2 ...; beyond max-file they are removed. conmon writes
     on while we react, so a rotated file may pass max-size a little; one more than twice as big
     (a burst) is cut at line boundaries into max-size pieces, the newest of which are kept, as
     if it had been rotated on time.
Readers (logs.py) take the same lock to open a consistent set of files.

While shim-runner is down nothing rotates: conmon keeps appending to `ctr.log`, so nothing is lost
but the file grows past max-size; the restored shim-runner rotates it at once (its newest part is
kept in max-size pieces). A rotation interrupted between 1 and 2 is finished on restore.
"""

import ctypes
import errno
import json
import logging
import os
import re
import select
import threading
import time
from dataclasses import dataclass

from dockyard_common import errors
from dockyard_common.oci import LOG_DRIVER_ANNOTATION, LOG_OPTS_ANNOTATION

from . import logs as logs_mod
from .monitor import request_log_reopen

log = logging.getLogger(__name__)

LOCAL_DEFAULT_MAX_SIZE = 20 * 1024 * 1024   # the local driver's defaults
LOCAL_DEFAULT_MAX_FILE = 5
REOPEN_RETRY = 2.0      # seconds before asking conmon again to reopen
POLL = 1.0              # a check of every log even without events
COPY_BLOCK = 64 * 1024
BURST_FACTOR = 2        # a rotated file up to this many times max-size is kept whole


@dataclass
class LogConfig:
    driver: str = "json-file"
    max_size: int = -1      # bytes; -1: the file grows forever
    max_files: int = 1

    @property
    def rotates(self):
        return self.driver != "none" and self.max_size > 0 and self.max_files > 1

    @property
    def conmon_size_max(self):
        """conmon's own --log-size-max: the full file is dropped (Docker's max-file=1)."""
        if self.driver != "none" and self.max_size > 0 and self.max_files == 1:
            return self.max_size
        return -1


# -- parsing, as the drivers' New() (errors are dockerd's, at start) -------------------------------

_HUMAN_SIZE = re.compile(r"^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_DECIMAL = {"": 1, "k": 10 ** 3, "m": 10 ** 6, "g": 10 ** 9, "t": 10 ** 12, "p": 10 ** 15}
_INT = re.compile(r"^[+-]?\d+$")
_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
          "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


def from_human_size(text):
    """go-units FromHumanSize: decimal units, "1.5k" = 1500."""
    m = _HUMAN_SIZE.match(text)
    if not m:
        raise ValueError("invalid size: '%s'" % text)
    try:
        value = float(m.group(1))
    except ValueError:
        raise ValueError('strconv.ParseFloat: parsing "%s": invalid syntax' % m.group(1)) from None
    return int(value * _DECIMAL[(m.group(3) or "").lower()])


def _atoi(text):
    if not _INT.match(text):
        raise ValueError('strconv.Atoi: parsing "%s": invalid syntax' % text)
    return int(text)


def _parse_bool(text):
    if text not in _BOOLS:
        raise ValueError('strconv.ParseBool: parsing "%s": invalid syntax' % text)
    return _BOOLS[text]


def _json_file(opts):
    size, files = -1, 1
    if "max-size" in opts:
        size = from_human_size(opts["max-size"])
        if size <= 0:
            raise ValueError("max-size must be a positive number")
    if "max-file" in opts:
        files = _atoi(opts["max-file"])
        if files < 1:
            raise ValueError("max-file cannot be less than 1")
    if "compress" in opts and _parse_bool(opts["compress"]) and (files == 1 or size == -1):
        raise ValueError("compress cannot be true when max-file is less than 2 or max-size is "
                         "not set")
    return LogConfig("json-file", size, files)


def _local(opts):
    size, files, compress = LOCAL_DEFAULT_MAX_SIZE, LOCAL_DEFAULT_MAX_FILE, True
    if "max-size" in opts:
        try:
            size = from_human_size(opts["max-size"])
        except ValueError as exc:
            raise ValueError("invalid value for max-size: %s: %s" % (opts["max-size"], exc)) from None
    if "max-file" in opts:
        try:
            files = _atoi(opts["max-file"])
        except ValueError as exc:
            raise ValueError("invalid value for max-file: %s: %s" % (opts["max-file"], exc)) from None
    if "compress" in opts:
        try:
            compress = _parse_bool(opts["compress"])
        except ValueError as exc:
            raise ValueError("error reading compress log option: %s" % exc) from None
    if files < 0:
        raise ValueError("max file count cannot be less than 0")
    if compress and files <= 1:
        raise ValueError("compression cannot be enabled when max file count is 1")
    return LogConfig("local", size if size > 0 else -1, max(files, 1))


def config_from_spec(spec):
    """The container's LogConfig from the spec's annotations (set by the apiserver).
    Compression (compress, local's default) is accepted; rotated files stay uncompressed."""
    notes = spec.get("annotations") or {}
    driver = notes.get(LOG_DRIVER_ANNOTATION) or "json-file"
    try:
        opts = json.loads(notes.get(LOG_OPTS_ANNOTATION) or "{}")
    except ValueError:
        opts = {}
    try:
        if driver == "local":
            return _local(opts)
        if driver == "json-file":
            return _json_file(opts)
    except ValueError as exc:
        raise errors.InvalidArgument("failed to initialize logging driver: %s" % exc) from None
    return LogConfig(driver)


def config_from_bundle(bundle):
    try:
        with open(os.path.join(bundle, "config.json")) as f:
            return config_from_spec(json.load(f))
    except (OSError, ValueError, errors.DockyardError):
        return LogConfig()


# -- the rotation of one log ------------------------------------------------------------------

def _pieces(f, size, max_size, keep):
    """Byte ranges (newest first) cutting the file at line boundaries into pieces of at most
    max_size (a longer line is a piece of its own); at most `keep` of them."""
    pieces, end, start = [], size, size
    for line_start, _ in logs_mod._reverse_lines(f, size):
        if end - line_start > max_size and start < end:
            pieces.append((start, end))
            if len(pieces) == keep:
                return pieces
            end = start
        start = line_start
    if start < end:
        pieces.append((start, end))
    return pieces[:keep]


def _copy_range(src, start, end, dest):
    src.seek(start)
    with open(dest, "wb") as out:
        left = end - start
        while left > 0:
            chunk = src.read(min(COPY_BLOCK, left))
            if not chunk:
                break
            out.write(chunk)
            left -= len(chunk)
    os.chmod(dest, 0o600)


class RotatingLog:
    def __init__(self, path, bundle, cfg):
        self.path, self.bundle, self.cfg = path, bundle, cfg
        self.reopen_at = 0.0     # when conmon was last asked to reopen (0: not by us)

    def check(self, alive=True):
        """Rotate if due; `alive` False once the monitor is gone (no writer any more)."""
        with logs_mod.files_lock(self.path):
            rotating = self.path + logs_mod.ROTATING
            if os.path.exists(rotating):
                if os.path.exists(self.path) or not alive:
                    self._settle(rotating)
                elif time.monotonic() - self.reopen_at > REOPEN_RETRY:
                    self._reopen()      # e.g. shim-runner died before asking
                    return
                else:
                    return
            try:
                size = os.stat(self.path).st_size
            except FileNotFoundError:
                return
            if size < self.cfg.max_size:
                return
            os.rename(self.path, rotating)
            if alive and self._reopen():
                logs_mod.notify_change(self.path)
                return
            self._settle(rotating)

    def _reopen(self):
        try:
            request_log_reopen(self.bundle)
        except OSError as exc:
            if exc.errno not in (errno.ENXIO, errno.ENOENT):
                log.warning("cannot ask the monitor to reopen %s: %s", self.path, exc)
            return False
        self.reopen_at = time.monotonic()
        return True

    def _settle(self, rotating):
        """The rotated file is final: shift the older ones and store it as .1 (in pieces when
        it grew past max-size)."""
        keep = self.cfg.max_files - 1
        size = os.path.getsize(rotating)
        with open(rotating, "rb") as f:
            # conmon writes on while we react, so a file a little past max-size is on time;
            # a burst (or shim-runner's downtime) is cut.
            burst = size > BURST_FACTOR * self.cfg.max_size
            pieces = _pieces(f, size, self.cfg.max_size, keep) if burst else None
            count = len(pieces) if pieces else 1
            for i in range(keep, 0, -1):
                older = "%s.%d" % (self.path, i)
                if not os.path.exists(older):
                    continue
                if i + count > keep:
                    os.unlink(older)
                else:
                    os.rename(older, "%s.%d" % (self.path, i + count))
            if pieces:
                for k, (start, end) in enumerate(pieces, 1):
                    _copy_range(f, start, end, "%s.%d" % (self.path, k))
        if pieces:
            os.unlink(rotating)
        else:
            os.rename(rotating, self.path + ".1")
        logs_mod.notify_change(self.path)


# -- watching every rotating log ---------------------------------------------------------------

class _Inotify:
    MODIFY, MOVED_TO, CREATE, Q_OVERFLOW = 0x2, 0x80, 0x100, 0x4000
    _HEADER = 16   # struct inotify_event: wd, mask, cookie, len

    def __init__(self):
        self._libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")

    def add(self, path):
        wd = self._libc.inotify_add_watch(self.fd, os.fsencode(path),
                                          self.MODIFY | self.MOVED_TO | self.CREATE)
        if wd < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch", path)
        return wd

    def remove(self, wd):
        self._libc.inotify_rm_watch(self.fd, wd)

    def read(self):
        """(set of wds with events, overflowed)."""
        wds, overflow = set(), False
        while True:
            try:
                buf = os.read(self.fd, 64 * 1024)
            except BlockingIOError:
                return wds, overflow
            pos = 0
            while pos + self._HEADER <= len(buf):
                wd, mask, _, length = (int.from_bytes(buf[pos + i:pos + i + 4], "little")
                                       for i in (0, 4, 8, 12))
                if mask & self.Q_OVERFLOW:
                    overflow = True
                wds.add(wd)
                pos += self._HEADER + length


class Rotator:
    """Rotates the logs of running containers; one thread for all of them, started on demand."""

    def __init__(self, poll=POLL):
        self.poll = poll
        self._logs = {}       # cid -> (RotatingLog, wd)
        self._lock = threading.Lock()
        self._inotify = None
        self._thread = None

    def add(self, cid, path, bundle, cfg):
        if not cfg.rotates:
            return
        rlog = RotatingLog(path, bundle, cfg)
        with self._lock:
            self._start()
            wd = None
            if self._inotify is not None:
                try:
                    wd = self._inotify.add(os.path.dirname(path))
                except OSError as exc:
                    log.warning("no inotify watch on %s (polling): %s", path, exc)
            self._logs[cid] = (rlog, wd)
        self._check(rlog)

    def finish(self, cid, path):
        """The container's monitor is gone: complete any rotation, stop watching, and wake the
        followers of its log."""
        with self._lock:
            entry = self._logs.pop(cid, None)
            if entry and entry[1] is not None and not any(w == entry[1] for _, w in self._logs.values()):
                self._inotify.remove(entry[1])
        if entry:
            self._check(entry[0], alive=False)
        logs_mod.notify_change(path)

    def _start(self):
        if self._thread is not None:
            return
        try:
            self._inotify = _Inotify()
        except OSError as exc:
            log.warning("inotify unavailable, log rotation polls: %s", exc)
        self._thread = threading.Thread(target=self._run, name="log-rotator", daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            fd = self._inotify.fd if self._inotify else None
            ready = select.select([fd], [], [], self.poll)[0] if fd is not None else \
                time.sleep(self.poll)
            with self._lock:
                entries = list(self._logs.values())
            if ready:
                wds, overflow = self._inotify.read()
                if not overflow:
                    entries = [e for e in entries if e[1] in wds or e[1] is None]
            for rlog, _ in entries:
                self._check(rlog)

    @staticmethod
    def _check(rlog, alive=True):
        try:
            rlog.check(alive)
        except OSError as exc:
            log.warning("log rotation of %s failed: %s", rlog.path, exc)
