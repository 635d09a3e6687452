"""COPY/ADD sources: resolving them in the build context (globs, directories, .dockerignore'd
files are already gone), Docker-like content hashes for the build cache ("file:<sha256>"), and
the tar that places them at the destination (entries named by their full path below "/")."""

import copy
import hashlib
import os
import posixpath
import re
import stat
import tarfile
from dataclasses import dataclass

from dockyard_common import errors

from .ignore import _to_regex

_GLOB = re.compile(r"[*?\[]")
_ARCHIVE_MAGICS = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


class CopyError(errors.InvalidArgument):
    pass


@dataclass
class Source:
    path: str            # host path (a context file, or a spooled tar for --from)
    rel: str             # as named in messages
    is_dir: bool
    archive: bool = False   # ADD of a local tar: extracted
    spooled: bool = False   # a tar from Snapshots.ArchiveGet (entries named after the base name)


def is_glob(text):
    return bool(_GLOB.search(text))


def resolve_context(ctx, srcs, cmd, add=False):
    out = []
    for raw in srcs:
        if add and re.match(r"^[a-z][a-z0-9+.-]*://", raw, re.I):
            raise CopyError("ADD from a URL (%s) is not supported by dockyard: download the file "
                            "into the build context instead" % raw)
        rel = posixpath.normpath("/" + raw).lstrip("/")
        if is_glob(rel):
            found = _glob(ctx, rel)
            out += [_source(ctx, r, add) for r in found]
            continue
        path = ctx.resolve(rel)
        if not os.path.lexists(path):
            raise CopyError("%s failed: file not found in build context or excluded by .dockerignore: "
                            "stat %s: file does not exist" % (cmd, rel or "."))
        out.append(_source(ctx, rel, add))
    if not out:
        raise CopyError("%s failed: no source files were specified" % cmd)
    return out


def _source(ctx, rel, add):
    path = ctx.resolve(rel)
    is_dir = os.path.isdir(path) and not os.path.islink(path)
    return Source(path=path, rel=rel or ".", is_dir=is_dir,
                  archive=add and not is_dir and _is_archive(path))


def _glob(ctx, pattern):
    rx = re.compile(_to_regex(pattern))
    found = []
    for top, dirnames, filenames in os.walk(ctx.dir):
        rel_top = os.path.relpath(top, ctx.dir)
        rel_top = "" if rel_top == "." else rel_top
        dirnames.sort()
        keep = []
        for d in dirnames:
            rel = posixpath.join(rel_top, d) if rel_top else d
            if rx.match(rel):
                found.append(rel)
            else:
                keep.append(d)
        dirnames[:] = keep
        for f in sorted(filenames):
            rel = posixpath.join(rel_top, f) if rel_top else f
            if rx.match(rel):
                found.append(rel)
    return sorted(found)


def _is_archive(path):
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return False
    if any(head.startswith(m) for m in _ARCHIVE_MAGICS):
        try:
            with tarfile.open(path, "r:*") as tf:
                tf.next()
            return True
        except (tarfile.TarError, EOFError, OSError):
            return False
    return len(head) >= 262 and head[257:262] == b"ustar"


# ------------------------------------------------------------------ hashing
def _file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _entry_line(path, rel):
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        extra = os.readlink(path)
    elif stat.S_ISREG(st.st_mode):
        extra = _file_digest(path)
    else:
        extra = ""
    return "%s\0%o\0%s\n" % (rel, st.st_mode, extra)


def _tar_digest(path):
    h = hashlib.sha256()
    with tarfile.open(path, "r:") as tf:
        for m in tf:
            h.update(("%s\0%s\0%o\0%s\0%d:%d\n" % (m.name, m.type, m.mode, m.linkname, m.uid, m.gid)).encode())
            if m.isreg():
                f = tf.extractfile(m)
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()


def source_hash(sources):
    """Docker's cache key of COPY/ADD sources: file:<h>, dir:<h> or multi:<h>."""
    parts = []
    for s in sources:
        if s.spooled:
            parts.append(("dir:" if s.is_dir else "file:") + _tar_digest(s.path))
        elif s.is_dir:
            h = hashlib.sha256()
            for top, dirnames, filenames in os.walk(s.path):
                dirnames.sort()
                for name in sorted(dirnames + filenames):
                    full = os.path.join(top, name)
                    h.update(_entry_line(full, os.path.relpath(full, s.path)).encode())
            parts.append("dir:" + h.hexdigest())
        else:
            parts.append("file:" + hashlib.sha256(_entry_line(s.path, "").encode()).hexdigest())
    if len(parts) == 1:
        return parts[0]
    return "multi:" + hashlib.sha256(",".join(parts).encode()).hexdigest()


# ------------------------------------------------------------------ placing
def _name(dest_path):
    return posixpath.normpath(dest_path).lstrip("/")


def _owned(info, owner):
    if owner is not None:
        info.uid, info.gid = owner
    info.uname = info.gname = ""
    return info


def _add_path(tf, path, name, owner):
    info = tf.gettarinfo(path, arcname=name)
    _owned(info, owner)
    if info.isreg():
        with open(path, "rb") as f:
            tf.addfile(info, f)
    elif info.isdir() or info.issym():
        tf.addfile(info)
    elif info.islnk():
        info.type = tarfile.REGTYPE  # context hard links become plain copies
        with open(path, "rb") as f:
            tf.addfile(info, f)
    # devices, fifos and sockets are not copied


def _add_tree(tf, root, dest_name, owner):
    for top, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_top = os.path.relpath(top, root)
        for name in sorted(dirnames) + sorted(filenames):
            rel = name if rel_top == "." else os.path.join(rel_top, name)
            _add_path(tf, os.path.join(top, name), posixpath.join(dest_name, rel) if dest_name else rel, owner)


def _dir_entry(name, owner):
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    return _owned(info, owner or (0, 0))


def _relocated(members_of, rename, owner, keep_owner):
    """Copy the members of a tar (a TarFile) to `tf` renamed by `rename(name)` (None: skip)."""
    def add(tf):
        src = members_of()
        try:
            for m in src:
                new = rename(m.name)
                if new is None:
                    continue
                info = copy.copy(m)
                info.name = new
                if info.islnk():
                    target = rename(m.linkname)
                    if target is None:
                        continue
                    info.linkname = target
                _owned(info, None if keep_owner else owner)
                if info.isreg():
                    tf.addfile(info, src.extractfile(m))
                elif info.type in (tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE):
                    tf.addfile(info)
        finally:
            src.close()
    return add


def _safe_member(name):
    name = posixpath.normpath("/" + name).lstrip("/")
    return "" if name in ("", ".") else name


def placement(sources, dest, dest_is_dir, dest_exists, owner, cmd):
    """A `fill(tf)` function writing `sources` to `dest` (absolute; a trailing "/" means a
    directory). `dest_is_dir`: dest already is a directory in the image."""
    many = len(sources) > 1
    as_dir = dest.endswith("/") or dest_is_dir
    if many and not dest.endswith("/"):
        raise CopyError("When using %s with more than one source file, the destination must be a "
                        "directory and end with a /" % cmd)
    dest_name = _name(dest) if _name(dest) != "." else ""
    if (as_dir or any(s.is_dir or s.archive for s in sources)) and not dest_exists and dest_name:
        need_dir = True
    else:
        need_dir = False
    kept = owner if owner is not None else (0, 0)

    def fill(tf):
        if need_dir:
            tf.addfile(_dir_entry(dest_name, kept))
        for s in sources:
            if s.spooled:
                _place_spooled(tf, s, dest_name, as_dir, kept)
            elif s.archive:
                _relocated(lambda: tarfile.open(s.path, "r:*"),
                           lambda n: _join(dest_name, _safe_member(n)), kept, True)(tf)
            elif s.is_dir:
                _add_tree(tf, s.path, dest_name, kept)
            else:
                target = posixpath.join(dest_name, os.path.basename(s.path)) if as_dir else dest_name
                if not target:
                    raise CopyError("%s failed: cannot copy a file to /" % cmd)
                _add_path(tf, s.path, target, kept)
    return fill


def _join(base, name):
    if not name:
        return None
    return posixpath.join(base, name) if base else name


def _place_spooled(tf, s, dest_name, as_dir, owner):
    """A tar from ArchiveGet: entries named "<base>" and "<base>/...": a directory's contents go
    below dest, a file goes to dest (or dest/<base> when dest is a directory)."""
    base = posixpath.basename(s.rel.rstrip("/")) or ""

    def rename(name):
        name = _safe_member(name)
        if s.is_dir:
            if name == base or not name.startswith(base + "/"):
                return None
            return _join(dest_name, name[len(base) + 1:])
        if name != base:
            return None
        return posixpath.join(dest_name, base) if as_dir else dest_name

    _relocated(lambda: tarfile.open(s.path, "r:"), rename, owner, False)(tf)


def spooled_is_dir(path):
    with tarfile.open(path, "r:") as tf:
        first = tf.next()
        return bool(first and first.isdir())
