"""Volumes through the real stack: copy-up of image content into new volumes (owners, modes,
symlinks; not with nocopy, not into non-empty volumes), --volumes-from, rm -v, mount errors."""

import os
import shutil

import pytest

from stackutil import IMAGE, cli, ok

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root (runc, mounts, netns)"),
              pytest.mark.skipif(not shutil.which("docker"), reason="docker CLI missing")]


def test_new_volume_is_populated_from_the_image(st):
    out = ok(cli(st, "run", "--rm", "-v", "seedvol:/seed", IMAGE, "sh", "-c",
                 "stat -c '%u:%g %a' /seed; cat /seed/file; readlink /seed/link; stat -c '%u:%g %a' /seed/file"))
    assert out.splitlines() == ["1234:99 750", "seeded", "file", "1234:99 640"]
    mountpoint = st.client.api.inspect_volume("seedvol")["Mountpoint"]
    assert sorted(os.listdir(mountpoint)) == ["file", "link"]   # no leftover staging directory
    ok(cli(st, "volume", "rm", "seedvol"))


def test_nocopy_and_non_empty_volumes_are_not_populated(st):
    out = ok(cli(st, "run", "--rm", "--mount", "type=volume,source=nocp,target=/seed,volume-nocopy",
                 IMAGE, "ls", "-A", "/seed"))
    assert out == ""
    ok(cli(st, "run", "--rm", "-v", "nocp:/x", IMAGE, "sh", "-c", "echo mine > /x/marker"))
    out = ok(cli(st, "run", "--rm", "-v", "nocp:/seed", IMAGE, "ls", "/seed"))
    assert out.split() == ["marker"]
    ok(cli(st, "volume", "rm", "nocp"))


def test_volumes_from_and_rm_v(st, tmp_path):
    host = tmp_path / "shared"
    host.mkdir()
    ok(cli(st, "run", "--name", "vf-src", "-v", "/anon", "-v", "%s:/hostdir" % host, IMAGE,
           "sh", "-c", "echo a > /anon/f"))
    anon = [m for m in st.client.api.inspect_container("vf-src")["Mounts"] if m["Type"] == "volume"][0]
    out = ok(cli(st, "run", "--rm", "--volumes-from", "vf-src:ro", IMAGE, "sh", "-c",
                 "cat /anon/f; echo x > /hostdir/y 2>&1 || echo ro"))
    assert out.splitlines() == ["a", "ro"]
    assert st.client.api.inspect_volume(anon["Name"])  # --rm of the borrower kept it
    ok(cli(st, "rm", "-v", "vf-src"))
    assert cli(st, "volume", "inspect", anon["Name"]).returncode != 0


def test_image_volume_is_anonymous_and_removed_with_rm(st):
    ok(cli(st, "run", "--name", "imgvol", "-v", "/seed", IMAGE, "cat", "/seed/file"))
    m = st.client.api.inspect_container("imgvol")["Mounts"][0]
    assert m["Type"] == "volume" and len(m["Name"]) == 64
    ok(cli(st, "rm", "-v", "imgvol"))
    assert cli(st, "volume", "inspect", m["Name"]).returncode != 0


@pytest.mark.parametrize("args,fragment", [
    (["-v", "/tmp:/"], "destination can't be '/'"),
    (["-v", "aa:/x", "-v", "/tmp:/x"], "Duplicate mount point: /x"),
    (["--mount", "type=bind,source=/nonexistent-dy-it,target=/x"],
     'invalid mount config for type "bind": bind source path does not exist: /nonexistent-dy-it'),
])
def test_mount_errors_are_400(st, args, fragment):
    r = cli(st, "run", "--rm", *args, IMAGE, "true")
    assert r.returncode == 125 and fragment in r.stderr
    assert not os.path.exists("/nonexistent-dy-it")


def test_dash_v_creates_the_host_directory(st, tmp_path):
    target = tmp_path / "made"
    ok(cli(st, "run", "--rm", "-v", "%s:/m" % target, IMAGE, "sh", "-c", "echo hi > /m/f"))
    assert (target / "f").read_text() == "hi\n"
