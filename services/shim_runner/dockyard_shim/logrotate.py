"""`--log-opt max-size/max-file/compress` for the json-file and local drivers (Docker's
loggerutils LogFile).

conmon writes the k8s-file log and cannot rotate: its --log-size-max replaces the full file with
an empty one (the old content is dropped). That is Docker's behaviour for max-file=1, so conmon
does it then. For max-file >= 2 shim-runner rotates, watching the log directory with inotify.
max-size counts dockerd's bytes (logsize: a json-file line, a local record), not conmon's, so the
files end where dockerd's would and `docker logs` keeps the same lines. dockerd's current file is
`ctr.log.head` (what was left after the last cut, if anything) followed by the live `ctr.log`:
  1. They have reached max-size: rename `ctr.log` to `ctr.log.rotating` (conmon keeps appending
     to it through its open descriptor, nothing is lost) and ask conmon to reopen (ctl message 2).
  2. conmon creates a fresh `ctr.log`; it has let go of the old file, which is final now. head +
     rotating are cut after each line that brings a file to max-size (dockerd checks before each
     write); the complete files become `ctr.log.1` (newest), older ones shift to .2 ...; beyond
     max-file they are removed; the lines after the last cut (conmon wrote on while we reacted)
     are the new head.
  3. With compress (json-file's compress=true, the local driver's default) each rotated file is
     then gzipped as Docker does (`ctr.log.1.gz`, shifted to .2.gz ...): streamed into a
     temporary `.gz.tmp` outside the lock (in the rotator's thread, never conmon's), renamed in
     place of the plain file under the lock, so a reader sees the plain file or the whole .gz.
Readers (logs.py) take the same lock to open a consistent set of files.

While shim-runner is down nothing rotates: conmon keeps appending to `ctr.log`, so nothing is lost
but the file grows past max-size; the restored shim-runner rotates it at once, as dockerd would
have. A rotation interrupted between 1 and 2 is finished on restore.
"""

import ctypes
import errno
import gzip
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
from . import logsize
from .monitor import request_log_reopen

log = logging.getLogger(__name__)

LOCAL_DEFAULT_MAX_SIZE = 20 * 1024 * 1024   # the local driver's defaults
LOCAL_DEFAULT_MAX_FILE = 5
REOPEN_RETRY = 2.0      # seconds before asking conmon again to reopen
POLL = 1.0              # a check of every log even without events
COPY_BLOCK = 64 * 1024
CUT = ".cut"            # ctr.log.cutN: files being cut from head + rotating (never read)


@dataclass
class LogConfig:
    driver: str = "json-file"
    max_size: int = -1      # bytes; -1: the file grows forever
    max_files: int = 1
    compress: bool = False  # gzip the rotated files

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
    compress = "compress" in opts and _parse_bool(opts["compress"])
    if compress and (files == 1 or size == -1):
        raise ValueError("compress cannot be true when max-file is less than 2 or max-size is "
                         "not set")
    return LogConfig("json-file", size, files, compress)


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
    return LogConfig("local", size if size > 0 else -1, max(files, 1), compress)


def config_from_spec(spec):
    """The container's LogConfig from the spec's annotations (set by the apiserver)."""
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

GZ_TMP = logs_mod.GZ + ".tmp"


def _gzip_to(src, dest):
    """Stream src into the gzip file dest, flushed to disk before it is renamed into place."""
    with open(src, "rb") as f, open(dest, "wb") as raw:
        os.fchmod(raw.fileno(), 0o600)
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6,
                           mtime=int(os.fstat(f.fileno()).st_mtime)) as out:
            while True:
                chunk = f.read(COPY_BLOCK)
                if not chunk:
                    break
                out.write(chunk)
        raw.flush()
        os.fsync(raw.fileno())


class RotatingLog:
    def __init__(self, path, bundle, cfg):
        self.path, self.bundle, self.cfg = path, bundle, cfg
        self.reopen_at = 0.0     # when conmon was last asked to reopen (0: not by us)
        self._serial = threading.Lock()      # the rotator's thread and finish() may both check
        self._to_compress = cfg.compress     # at first: what a previous run left plain
        self._fresh = True                   # temporary files of a previous run to remove
        self._current = None                 # [live inode, offset read, dockerd's size so far]
        self._sizer = None

    def check(self, alive=True):
        """Rotate if due, then compress what was rotated; `alive` False once the monitor is gone
        (no writer any more)."""
        with self._serial:
            if self._fresh:
                self._fresh = False
                self._remove_temporaries()
            self._rotate(alive)
            if self._to_compress:
                self._to_compress = False
                self._compress_rotated()

    def _remove_temporaries(self):
        """What an interrupted cut or compression left (its sources are still there)."""
        directory, base = os.path.split(self.path)
        for name in os.listdir(directory):
            rest = name[len(base):]
            if name.startswith(base) and (rest.endswith(GZ_TMP) or rest.startswith(CUT)):
                os.unlink(os.path.join(directory, name))

    def _current_size(self):
        """dockerd's size of its current file: the head and the live log, whose new lines are
        counted as they come."""
        with open(self.path, "rb") as f:
            inode = os.fstat(f.fileno()).st_ino
            if self._current is None or self._current[0] != inode:
                self._sizer = logsize.Sizer(self.cfg.driver)
                self._current = [inode, 0, 0]
                try:
                    with open(self.path + logs_mod.HEAD, "rb") as head:
                        self._current[2] = sum(self._sizer.feed(line) for line in head)
                except FileNotFoundError:
                    pass
            f.seek(self._current[1])
            for line in logs_mod._complete_lines(f, False):
                self._current[1] += len(line)
                self._current[2] += self._sizer.feed(line)
        return self._current[2]

    def _compress_rotated(self):
        """Gzip every plain rotated file (normally just .1). Compression runs outside the files
        lock; only this log's own checks could shift the files, and they are serialized."""
        for _, name in sorted(logs_mod.rotated_files(self.path).items()):
            if name.endswith(logs_mod.GZ):
                continue
            tmp = name + GZ_TMP
            try:
                _gzip_to(name, tmp)
            except FileNotFoundError:
                continue
            with logs_mod.files_lock(self.path):
                os.rename(tmp, name + logs_mod.GZ)
                os.unlink(name)

    def _rotate(self, alive):
        rotating = self.path + logs_mod.ROTATING
        with logs_mod.files_lock(self.path):
            if os.path.exists(rotating):
                if os.path.exists(self.path) or not alive:
                    self._settle(rotating)
                elif time.monotonic() - self.reopen_at > REOPEN_RETRY:
                    self._reopen()      # e.g. shim-runner died before asking
                    return
                else:
                    return
        try:       # outside the lock: only conmon appends, only this thread renames
            if self._current_size() < self.cfg.max_size:
                return
        except FileNotFoundError:
            return
        with logs_mod.files_lock(self.path):
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
        """The rotated file is final: cut head + rotating where dockerd's files end, shift the
        older files and store the complete ones as .1 (newest) ...; the rest is the new head."""
        keep, head = self.cfg.max_files - 1, self.path + logs_mod.HEAD
        sizer, size, cuts = logsize.Sizer(self.cfg.driver), 0, 0
        done, out = [], None          # the complete files (at most keep, oldest first), the open one
        for src in (head, rotating):
            try:
                f = open(src, "rb")
            except FileNotFoundError:
                continue
            with f:
                for line in f:
                    if out is None:
                        out = open("%s%s%d" % (self.path, CUT, cuts), "wb")
                        os.fchmod(out.fileno(), 0o600)
                    out.write(line)
                    size += sizer.feed(line)
                    if size >= self.cfg.max_size:
                        out.close()
                        done.append(out.name)
                        out, size, cuts = None, 0, cuts + 1
                        if len(done) > keep:
                            os.unlink(done.pop(0))
        if out is not None:
            out.close()
        rotated = logs_mod.rotated_files(self.path)
        for i in sorted(rotated, reverse=True):
            older = rotated[i]
            if i + cuts > keep:
                os.unlink(older)
            else:       # .N or .N.gz: the shifted name keeps the suffix
                suffix = older[len("%s.%d" % (self.path, i)):]
                os.rename(older, "%s.%d%s" % (self.path, i + cuts, suffix))
        for k, name in enumerate(reversed(done), 1):
            os.rename(name, "%s.%d" % (self.path, k))
        if out is not None:
            os.rename(out.name, head)
        elif os.path.exists(head):
            os.unlink(head)
        os.unlink(rotating)
        self._current = None          # the head changed: count the current file again
        self._to_compress = self.cfg.compress and cuts > 0
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
