"""The build context: the request body (a tar, maybe gzip/bzip2/xz compressed, or a bare
Dockerfile) streamed into a private temp dir, `.dockerignore` applied, the Dockerfile located."""

import io
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile

from dockyard_common import errors

from .ignore import Matcher, read_patterns

TMPDIR_ENV = "DOCKYARD_BUILD_TMPDIR"
_MAX_BARE_DOCKERFILE = 8 << 20
_MAGICS = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


class Context:
    def __init__(self, root):
        self.root = root            # the temp dir; the context lives in root/ctx
        self.dir = os.path.join(root, "ctx")
        self.dockerfile_text = ""
        self.dockerfile_name = ""
        self.matcher = Matcher([])

    def scratch(self, name):
        """A private path for the build's own temp files (outside the context)."""
        return os.path.join(self.root, name)

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def resolve(self, rel):
        """Absolute host path of a context-relative path; never outside the context."""
        rel = posixpath.normpath("/" + rel.replace("\\", "/")).lstrip("/")
        path = os.path.join(self.dir, rel) if rel else self.dir
        real = os.path.realpath(path)
        if real != os.path.realpath(self.dir) and not real.startswith(os.path.realpath(self.dir) + os.sep):
            # a symlink pointing out of the context: use the link itself
            parent = os.path.realpath(os.path.dirname(path))
            if not parent.startswith(os.path.realpath(self.dir)):
                raise errors.InvalidArgument("forbidden path outside the build context: %s" % rel)
        return path


class _Prefixed(io.RawIOBase):
    """`head` bytes, then the rest of `stream`."""

    def __init__(self, head, stream):
        self.head, self.stream = head, stream

    def readable(self):
        return True

    def readinto(self, b):
        if self.head:
            n = min(len(b), len(self.head))
            b[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.stream.read(len(b))
        n = len(data)
        b[:n] = data
        return n


def _read_head(stream, size=512):
    head = b""
    while len(head) < size:
        data = stream.read(size - len(head))
        if not data:
            break
        head += data
    return head


def _is_archive(head):
    if any(head.startswith(m) for m in _MAGICS):
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"


def receive(stream, dockerfile=""):
    """Read the whole context from `stream` into a new temp dir; returns a Context."""
    parent = os.environ.get(TMPDIR_ENV) or None
    if parent:
        os.makedirs(parent, exist_ok=True)
    ctx = Context(tempfile.mkdtemp(prefix="dockyard-build-", dir=parent))
    try:
        os.mkdir(ctx.dir, 0o755)
        head = _read_head(stream)
        reader = io.BufferedReader(_Prefixed(head, stream), 1 << 20)
        if _is_archive(head):
            _extract(reader, ctx.dir)
        elif head.strip():
            data = reader.read(_MAX_BARE_DOCKERFILE + 1)
            if len(data) > _MAX_BARE_DOCKERFILE:
                raise errors.InvalidArgument("the build context is neither a tar archive nor a Dockerfile")
            with open(os.path.join(ctx.dir, "Dockerfile"), "wb") as f:
                f.write(data)
        _load_dockerfile(ctx, dockerfile)
        return ctx
    except BaseException:
        ctx.close()
        raise


def _safe_name(name):
    name = posixpath.normpath("/" + name.replace("\\", "/")).lstrip("/")
    return name if name and name != "." else ""


def _inside(root, path):
    real = os.path.realpath(path)
    return real == root or real.startswith(root + os.sep)


def _extract(reader, dest):
    root = os.path.realpath(dest)
    try:
        tf = tarfile.open(fileobj=reader, mode="r|*")
    except tarfile.TarError as exc:
        raise errors.InvalidArgument("failed to read the build context: %s" % exc) from None
    dirs = []
    try:
        for m in _members(tf):
            name = _safe_name(m.name)
            if not name:
                continue
            path = os.path.join(dest, name)
            parent = os.path.dirname(path)
            os.makedirs(parent, exist_ok=True)
            if not _inside(root, parent):
                raise errors.InvalidArgument("invalid path in the build context: %s" % m.name)
            if m.isdir():
                if os.path.lexists(path) and not os.path.isdir(path):
                    os.unlink(path)
                os.makedirs(path, exist_ok=True)
                dirs.append((path, m))
                continue
            if os.path.lexists(path) and not os.path.isdir(path):
                os.unlink(path)
            if m.isreg():
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(tf.extractfile(m), out, 1 << 20)
                os.chmod(path, m.mode & 0o7777)
                os.utime(path, (m.mtime, m.mtime))
            elif m.issym():
                os.symlink(m.linkname, path)
            elif m.islnk():
                target = os.path.join(dest, _safe_name(m.linkname))
                if not _inside(root, target) or not os.path.isfile(target):
                    raise errors.InvalidArgument("invalid hard link in the build context: %s" % m.name)
                os.link(target, path)
            # devices and fifos have no place in a build context: skipped
        for path, m in reversed(dirs):
            os.chmod(path, m.mode & 0o7777 | stat.S_IRWXU)
            os.utime(path, (m.mtime, m.mtime))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise errors.InvalidArgument("failed to read the build context: %s" % exc) from None
    finally:
        tf.close()


def _members(tf):
    """The members; the docker CLI's `-f -` context ends right after the last file's data,
    without padding or end blocks (Go's reader accepts that, tarfile does not)."""
    seen = False
    while True:
        try:
            m = tf.next()
        except tarfile.ReadError:
            if seen:
                return
            raise
        if m is None:
            return
        seen = True
        yield m


def _load_dockerfile(ctx, name):
    explicit = bool(name)
    name = name or "Dockerfile"
    rel = _safe_name(name)
    path = os.path.join(ctx.dir, rel)
    if not explicit and not os.path.isfile(path) and os.path.isfile(os.path.join(ctx.dir, "dockerfile")):
        rel, path = "dockerfile", os.path.join(ctx.dir, "dockerfile")
    if not rel or not _inside(os.path.realpath(ctx.dir), path) or not os.path.isfile(path):
        raise errors.InvalidArgument("Cannot locate specified Dockerfile: %s" % name)
    with open(path, "rb") as f:
        ctx.dockerfile_text = f.read().decode("utf-8", errors="replace")
    ctx.dockerfile_name = rel
    ignore = os.path.join(ctx.dir, ".dockerignore")
    patterns = []
    if os.path.isfile(ignore):
        with open(ignore, errors="replace") as f:
            patterns = read_patterns(f.read())
    ctx.matcher = Matcher(patterns)
    if ctx.matcher:
        _apply_ignore(ctx)


def _apply_ignore(ctx):
    """Drop excluded files (the CLI already does this client-side; raw tar clients do not)."""
    m = ctx.matcher
    for top, dirnames, filenames in os.walk(ctx.dir, topdown=True):
        rel_top = os.path.relpath(top, ctx.dir)
        rel_top = "" if rel_top == "." else rel_top
        keep_dirs = []
        for d in dirnames:
            rel = posixpath.join(rel_top, d) if rel_top else d
            full = os.path.join(top, d)
            if m.excluded(rel) and not m.may_include_below(rel):
                shutil.rmtree(full, ignore_errors=True) if not os.path.islink(full) else os.unlink(full)
            else:
                keep_dirs.append(d)
        dirnames[:] = keep_dirs
        for fn in filenames:
            rel = posixpath.join(rel_top, fn) if rel_top else fn
            if m.excluded(rel):
                os.unlink(os.path.join(top, fn))
