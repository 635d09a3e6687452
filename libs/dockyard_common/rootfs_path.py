"""Paths inside a container's root filesystem, resolved as Docker does: every symlink is
followed as if the root were "/", so nothing ever resolves outside it.

The walk uses directory file descriptors opened one component at a time with O_NOFOLLOW, so a
symlink that a running container swaps in while we look is never followed on the host.
"""

import errno
import os
import posixpath
import stat

MAX_SYMLINKS = 255
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_root(path):
    """An fd on the (trusted) root directory."""
    return os.open(path, DIR_FLAGS)


def _split(path):
    return [p for p in path.split("/") if p and p != "."]


def wants_dir(path):
    """Docker keeps a trailing "/" or "/." (archive.PreserveTrailingDotOrSeparator): the last
    component is then resolved like the others."""
    return path in ("", ".") or path.endswith("/") or path.endswith("/.")


def clean_abs(path):
    """The absolute, cleaned form of path ("/" + path, ".." lexically)."""
    return posixpath.normpath("/" + path)


def base_name(path):
    """Docker's filepath.Base of the absolute path, keeping a trailing "." ("/a/." -> ".")."""
    if path.endswith("/.") or path == ".":
        return "."
    return posixpath.basename(clean_abs(path)) or "/"


class Resolved:
    """A directory fd and an entry name in it (name None: the directory itself). `parts` are the
    resolved components below the root. Close it (or use it as a context manager)."""

    def __init__(self, dir_fd, name, parts):
        self.dir_fd = dir_fd
        self.name = name
        self.parts = parts

    @property
    def path(self):
        return "/" + "/".join(self.parts)

    def lstat(self):
        if self.name is None:
            return os.fstat(self.dir_fd)
        return os.lstat(self.name, dir_fd=self.dir_fd)

    def close(self):
        if self.dir_fd is not None:
            os.close(self.dir_fd)
            self.dir_fd = None

    def __del__(self):   # a stream that was never started still releases its fd
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def resolve(root_fd, path, follow_last=False):
    """Resolve path inside the root. The directory part always has its symlinks followed (within
    the root); the last component only with follow_last or a trailing "/" (Docker's ResolvePath
    vs GetResourcePath). Raises FileNotFoundError / NotADirectoryError / OSError(ELOOP)."""
    follow_last = follow_last or wants_dir(path)
    parts = _split(clean_abs(path))    # ".." in the request is lexical, as Docker's Join
    stack = []          # [(name, fd)] of the directories walked into, below the root
    hops = 0
    try:
        while parts:
            part = parts.pop(0)
            if part == "..":
                if stack:
                    os.close(stack.pop()[1])
                continue
            cur = stack[-1][1] if stack else root_fd
            if not parts and not follow_last:
                return Resolved(os.dup(cur), part, [n for n, _ in stack] + [part])
            st = os.lstat(part, dir_fd=cur)
            if stat.S_ISLNK(st.st_mode):
                hops += 1
                if hops > MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, "too many levels of symbolic links", path)
                target = os.readlink(part, dir_fd=cur)
                if target.startswith("/"):
                    while stack:
                        os.close(stack.pop()[1])
                parts = _split(target) + parts
                continue
            if stat.S_ISDIR(st.st_mode):
                try:
                    fd = os.open(part, DIR_FLAGS, dir_fd=cur)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):   # swapped under us
                        raise OSError(errno.ELOOP, "path changed while resolving", path) from None
                    raise
                stack.append((part, fd))
                continue
            if parts or wants_dir(path):
                raise NotADirectoryError(errno.ENOTDIR, "not a directory", path)
            return Resolved(os.dup(cur), part, [n for n, _ in stack] + [part])
        top = stack[-1][1] if stack else root_fd
        return Resolved(os.dup(top), None, [n for n, _ in stack])
    finally:
        for _, fd in stack:
            os.close(fd)


def resolve_lenient(root_fd, path):
    """The in-root absolute path that path leads to with every symlink followed, missing
    components kept as they are (Docker's FollowSymlinkInScope, used for linkTarget)."""
    parts = _split(path)
    names, fds = [], []     # fds[i] is None once a component is missing
    hops = 0
    try:
        while parts:
            part = parts.pop(0)
            if part == "..":
                if names:
                    names.pop()
                    fd = fds.pop()
                    if fd is not None:
                        os.close(fd)
                continue
            cur = fds[-1] if fds else root_fd
            st = None
            if cur is not None:
                try:
                    st = os.lstat(part, dir_fd=cur)
                except OSError:
                    st = None
            if st is not None and stat.S_ISLNK(st.st_mode):
                hops += 1
                if hops > MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, "too many levels of symbolic links", path)
                target = os.readlink(part, dir_fd=cur)
                if target.startswith("/"):
                    for fd in fds:
                        if fd is not None:
                            os.close(fd)
                    names, fds = [], []
                parts = _split(target) + parts
                continue
            fd = None
            if st is not None and stat.S_ISDIR(st.st_mode):
                try:
                    fd = os.open(part, DIR_FLAGS, dir_fd=cur)
                except OSError:
                    fd = None
            names.append(part)
            fds.append(fd)
        return "/" + "/".join(names)
    finally:
        for fd in fds:
            if fd is not None:
                os.close(fd)
