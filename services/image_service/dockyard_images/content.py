"""Content-addressed blob store: content/blobs/sha256/<hex>, written once through content/ingest/.

A blob is streamed into a temp file under ingest/ while its sha256 is computed; only a complete
file whose digest matches is renamed into blobs/, so a reader never sees a half-written blob.
"""

import hashlib
import os
import re
import shutil
import tempfile

from dockyard_common import errors

CHUNK = 1024 * 1024
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


def check_digest(digest):
    if not _DIGEST_RE.match(digest or ""):
        raise errors.InvalidArgument("invalid digest %r" % (digest,))
    return digest


class ContentStore:
    def __init__(self, root):
        self.root = root
        self.blobs_dir = os.path.join(root, "blobs", "sha256")
        self.ingest_dir = os.path.join(root, "ingest")
        os.makedirs(self.blobs_dir, exist_ok=True)
        os.makedirs(self.ingest_dir, exist_ok=True)

    def clean_ingest(self):
        """Drop leftovers of writes interrupted by a crash (nothing resumes them yet)."""
        for name in os.listdir(self.ingest_dir):
            path = os.path.join(self.ingest_dir, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)

    def path(self, digest):
        return os.path.join(self.blobs_dir, check_digest(digest).split(":", 1)[1])

    def exists(self, digest):
        return os.path.exists(self.path(digest))

    def open(self, digest):
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise errors.NotFound("content %s not found" % digest) from None

    def size(self, digest):
        try:
            return os.stat(self.path(digest)).st_size
        except FileNotFoundError:
            raise errors.NotFound("content %s not found" % digest) from None

    def read(self, digest):
        """Whole blob in memory: for small blobs only (configs, manifests)."""
        with self.open(digest) as f:
            return f.read()

    def delete(self, digest):
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            pass

    def list(self):
        return ["sha256:" + name for name in os.listdir(self.blobs_dir)]

    def writer(self, expected=None):
        return Writer(self, expected)

    def put_bytes(self, data, expected=None):
        with self.writer(expected) as w:
            w.write(data)
        return w.digest

    def put_stream(self, fileobj, expected=None):
        with self.writer(expected) as w:
            copy_stream(fileobj, w)
        return w.digest

    def spool(self, chunks):
        """Write an incoming byte stream to a temp file under ingest/ and return it (rewound).

        The file is already unlinked, so it vanishes when closed, even after a crash.
        """
        f = tempfile.TemporaryFile(dir=self.ingest_dir)
        try:
            for chunk in chunks:
                if chunk:
                    f.write(chunk)
            f.seek(0)
        except BaseException:
            f.close()
            raise
        return f


class Writer:
    """Context manager: write(), then on clean exit the blob is committed (verified if expected)."""

    def __init__(self, store, expected=None):
        self.store = store
        self.expected = check_digest(expected) if expected else None
        self.hash = hashlib.sha256()
        self.size = 0
        self.digest = None
        fd, self.tmp = tempfile.mkstemp(dir=store.ingest_dir, prefix="blob-")
        self.file = os.fdopen(fd, "wb")

    def write(self, data):
        self.hash.update(data)
        self.size += len(data)
        self.file.write(data)
        return len(data)

    def commit(self):
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        digest = "sha256:" + self.hash.hexdigest()
        if self.expected and digest != self.expected:
            self.abort()
            raise errors.InvalidArgument("digest mismatch: expected %s, got %s"
                                         % (self.expected, digest))
        os.chmod(self.tmp, 0o444)
        target = self.store.path(digest)
        if os.path.exists(target):
            os.unlink(self.tmp)   # written once: the existing blob has the same bytes
        else:
            os.rename(self.tmp, target)
        self.digest = digest
        return digest

    def abort(self):
        if not self.file.closed:
            self.file.close()
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.abort()
        return False


def copy_stream(src, dst, chunk=CHUNK):
    while True:
        data = src.read(chunk)
        if not data:
            return
        dst.write(data)
