#!/usr/bin/env python3
"""Build the embedded default images, offline, from the host's static /bin/busybox.

    make_default_images.py OUTDIR

writes OUTDIR/busybox.tar (busybox:latest) and OUTDIR/hello-world.tar (hello-world:latest) as
docker-archive tarballs, which `docker load` (Images.Load) accepts. Every timestamp is the busybox
binary's mtime, so rebuilding gives byte-identical files (same image ids). Nothing is rebuilt when
both outputs are newer than this script and the busybox binary.
"""

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile

BUSYBOX = os.environ.get("DOCKYARD_BUSYBOX", "/bin/busybox")
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
"""
GROUP = """root:x:0:
daemon:x:1:
tty:x:5:
nogroup:x:65534:
app:x:1000:
"""

HELLO = r"""#!/bin/busybox sh
exec /bin/busybox cat <<'EOF'

Hello from dockyard!
This message shows that your installation appears to be working correctly.

Here is what just happened:
 1. The docker client asked the dockyard daemon, over its API socket, to run
    the "hello-world" image.
 2. The daemon found that image in its own image store: it is embedded in
    dockyard, so no registry was needed.
 3. The daemon created a new container from the image; the container ran
    this small program.
 4. The daemon streamed the program's output back to the docker client,
    which printed it to your terminal.

To try something more ambitious, run a shell in a busybox container:
 $ docker run -it --rm busybox sh

EOF
"""


class Rootfs:
    """Tar entries of a rootfs, kept sorted by name when written."""

    def __init__(self, mtime):
        self.mtime = mtime
        self.entries = {}   # name -> (TarInfo, source path or bytes or None)

    def _info(self, name, kind, mode, uid=0, gid=0):
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.mtime = kind, mode, self.mtime
        info.uid, info.gid, info.uname, info.gname = uid, gid, "", ""
        return info

    def dir(self, name, mode=0o755, uid=0, gid=0):
        parent = os.path.dirname(name)
        if parent and parent not in self.entries:
            self.dir(parent)
        self.entries[name] = (self._info(name, tarfile.DIRTYPE, mode, uid, gid), None)

    def file(self, name, data=None, source=None, mode=0o644):
        self._parents(name)
        info = self._info(name, tarfile.REGTYPE, mode)
        info.size = len(data) if data is not None else os.path.getsize(source)
        self.entries[name] = (info, data if data is not None else source)

    def symlink(self, name, target):
        self._parents(name)
        info = self._info(name, tarfile.SYMTYPE, 0o777)
        info.linkname = target
        self.entries[name] = (info, None)

    def _parents(self, name):
        parent = os.path.dirname(name)
        if parent and parent not in self.entries:
            self.dir(parent)

    def write(self, fileobj):
        with tarfile.open(fileobj=fileobj, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for name in sorted(self.entries):
                info, src = self.entries[name]
                if isinstance(src, bytes):
                    tar.addfile(info, io.BytesIO(src))
                elif isinstance(src, str):
                    with open(src, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)


def busybox_rootfs(mtime):
    fs = Rootfs(mtime)
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "etc", "root", "home",
              "var", "proc", "sys", "dev", "lib"):
        fs.dir(d, 0o700 if d == "root" else 0o755)
    fs.dir("home/app", 0o755, 1000, 1000)
    fs.dir("tmp", 0o1777)
    fs.dir("var/tmp", 0o1777)
    fs.file("bin/busybox", source=BUSYBOX, mode=0o755)
    applets = subprocess.run([BUSYBOX, "--list-full"], check=True, capture_output=True,
                             text=True).stdout.split()
    for path in applets:
        if path != "bin/busybox":
            fs.symlink(path, "/bin/busybox")
    fs.file("etc/passwd", PASSWD.encode())
    fs.file("etc/group", GROUP.encode())
    fs.file("etc/hostname", b"busybox\n")
    return fs


def hello_rootfs(mtime):
    fs = Rootfs(mtime)
    fs.file("bin/busybox", source=BUSYBOX, mode=0o755)
    fs.file("hello", HELLO.encode(), mode=0o755)
    return fs


def rfc3339(ts):
    import datetime
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def dump(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def write_archive(out_path, repo_tag, rootfs, container_config, created_by):
    """One-layer docker-archive: <layer>/layer.tar, <config>.json, manifest.json, repositories."""
    out_dir = os.path.dirname(os.path.abspath(out_path))
    with tempfile.TemporaryFile(dir=out_dir) as layer:
        rootfs.write(layer)
        size = layer.tell()
        layer.seek(0)
        h = hashlib.sha256()
        for block in iter(lambda: layer.read(1 << 20), b""):
            h.update(block)
        diff_id = "sha256:" + h.hexdigest()
        created = rfc3339(rootfs.mtime)
        config = dump({
            "architecture": "amd64",
            "config": container_config,
            "created": created,
            "history": [{"created": created, "created_by": created_by}],
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        })
        config_name = hashlib.sha256(config).hexdigest() + ".json"
        layer_dir = h.hexdigest()
        repo, _, tag = repo_tag.rpartition(":")
        meta = [
            (layer_dir + "/VERSION", b"1.0"),
            (layer_dir + "/json", dump({"id": layer_dir, "created": created})),
        ]
        tail = [
            (config_name, config),
            ("manifest.json", dump([{"Config": config_name, "RepoTags": [repo_tag],
                                     "Layers": [layer_dir + "/layer.tar"]}])),
            ("repositories", dump({repo: {tag: layer_dir}})),
        ]
        tmp = out_path + ".tmp"
        with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
            d = tarfile.TarInfo(layer_dir)
            d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o755, rootfs.mtime
            tar.addfile(d)
            for name, data in meta:
                tar.addfile(_member(name, len(data), rootfs.mtime), io.BytesIO(data))
            layer.seek(0)
            tar.addfile(_member(layer_dir + "/layer.tar", size, rootfs.mtime), layer)
            for name, data in tail:
                tar.addfile(_member(name, len(data), rootfs.mtime), io.BytesIO(data))
        os.replace(tmp, out_path)
    return "sha256:" + config_name[:-5]


def _member(name, size, mtime):
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, mtime
    return info


def up_to_date(outputs, inputs):
    try:
        oldest = min(os.stat(o).st_mtime for o in outputs)
    except FileNotFoundError:
        return False
    return all(os.stat(i).st_mtime < oldest for i in inputs)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("outdir")
    p.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = p.parse_args(argv)
    os.makedirs(args.outdir, exist_ok=True)
    busybox_out = os.path.join(args.outdir, "busybox.tar")
    hello_out = os.path.join(args.outdir, "hello-world.tar")
    if not args.force and up_to_date([busybox_out, hello_out], [__file__, BUSYBOX]):
        print("default images are up to date in %s" % args.outdir)
        return 0
    mtime = int(os.stat(BUSYBOX).st_mtime)
    env = [PATH_ENV]
    bid = write_archive(busybox_out, "busybox:latest", busybox_rootfs(mtime),
                        {"Env": env, "Cmd": ["sh"]},
                        "/bin/sh -c #(nop) ADD busybox rootfs (dockyard make_default_images)")
    hid = write_archive(hello_out, "hello-world:latest", hello_rootfs(mtime),
                        {"Env": env, "Cmd": ["/hello"]},
                        "/bin/sh -c #(nop) ADD hello rootfs (dockyard make_default_images)")
    print("busybox:latest %s -> %s" % (bid, busybox_out))
    print("hello-world:latest %s -> %s" % (hid, hello_out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
