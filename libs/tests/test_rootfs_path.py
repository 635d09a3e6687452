"""Resolving paths inside a container root: symlinks followed as if the root were "/"."""

import os

import pytest

from dockyard_common import rootfs_path


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    (r / "etc").mkdir(parents=True)
    (r / "etc" / "passwd").write_text("root\n")
    (r / "a" / "b").mkdir(parents=True)
    os.symlink("/etc", r / "abs")                       # absolute: means <root>/etc
    os.symlink("../../../../../../etc", r / "a" / "b" / "up")   # climbs above the root
    os.symlink("/", r / "a" / "toroot")
    os.symlink("loop2", r / "loop1")
    os.symlink("loop1", r / "loop2")
    os.symlink("/nonexistent/x", r / "dangling")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("host\n")
    os.symlink(str(tmp_path / "outside"), r / "hostlink")   # a host path: stays inside
    fd = rootfs_path.open_root(str(r))
    yield fd
    os.close(fd)


def resolved(fd, path, **kw):
    with rootfs_path.resolve(fd, path, **kw) as res:
        return res.path, res.name


def test_last_component_not_followed_unless_asked(root):
    assert resolved(root, "/abs") == ("/abs", "abs")
    assert resolved(root, "/abs", follow_last=True) == ("/etc", None)
    assert resolved(root, "/abs/") == ("/etc", None)          # trailing slash follows
    assert resolved(root, "abs/passwd") == ("/etc/passwd", "passwd")


def test_symlinks_never_leave_the_root(root):
    assert resolved(root, "/a/b/up/passwd") == ("/etc/passwd", "passwd")
    assert resolved(root, "/a/toroot/etc", follow_last=True) == ("/etc", None)
    with pytest.raises(FileNotFoundError):
        rootfs_path.resolve(root, "/hostlink/secret")       # <root>/tmp/.../outside: missing


def test_dotdot_is_lexical_and_clamped(root):
    assert resolved(root, "/../../etc/passwd") == ("/etc/passwd", "passwd")
    assert resolved(root, "/abs/../a") == ("/a", "a")        # lexical, as Docker's Join
    assert resolved(root, "/") == ("/", None)


def test_errors(root):
    with pytest.raises(FileNotFoundError):
        rootfs_path.resolve(root, "/nope/x")
    with pytest.raises(NotADirectoryError):
        rootfs_path.resolve(root, "/etc/passwd/x")
    with pytest.raises(OSError):
        rootfs_path.resolve(root, "/loop1", follow_last=True)


def test_lenient_resolution_for_link_targets(root):
    assert rootfs_path.resolve_lenient(root, "/a/b/up") == "/etc"
    assert rootfs_path.resolve_lenient(root, "/dangling") == "/nonexistent/x"
    assert rootfs_path.resolve_lenient(root, "/abs/passwd") == "/etc/passwd"


def test_names():
    assert rootfs_path.base_name("/tmp/x") == "x"
    assert rootfs_path.base_name("/tmp/") == "tmp"
    assert rootfs_path.base_name("/tmp/.") == "."
    assert rootfs_path.base_name("/") == "/"
