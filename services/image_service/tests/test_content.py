import io
import os

import pytest

from dockyard_common import errors
from dockyard_images.content import ContentStore
from helpers import digest


def test_write_and_read(tmp_path):
    store = ContentStore(str(tmp_path))
    d = store.put_bytes(b"hello")
    assert d == digest(b"hello")
    assert store.read(d) == b"hello"
    assert store.exists(d) and store.size(d) == 5
    assert os.listdir(store.ingest_dir) == []
    assert store.put_bytes(b"hello", d) == d   # written once: a second write is a no-op


def test_stream_verified(tmp_path):
    store = ContentStore(str(tmp_path))
    data = os.urandom(3 * 1024 * 1024 + 7)
    assert store.put_stream(io.BytesIO(data), digest(data)) == digest(data)
    assert store.read(digest(data)) == data


def test_mismatch_refused_and_nothing_kept(tmp_path):
    store = ContentStore(str(tmp_path))
    wrong = digest(b"other")
    with pytest.raises(errors.InvalidArgument, match="digest mismatch"):
        store.put_bytes(b"hello", wrong)
    assert not store.exists(wrong)
    assert not store.exists(digest(b"hello"))
    assert os.listdir(store.ingest_dir) == []


def test_failed_writer_leaves_nothing(tmp_path):
    store = ContentStore(str(tmp_path))
    with pytest.raises(RuntimeError):
        with store.writer() as w:
            w.write(b"partial")
            raise RuntimeError("boom")
    assert os.listdir(store.ingest_dir) == [] and store.list() == []


def test_bad_digest_and_missing(tmp_path):
    store = ContentStore(str(tmp_path))
    with pytest.raises(errors.InvalidArgument):
        store.path("sha256:../../etc/passwd")
    with pytest.raises(errors.NotFound):
        store.read(digest(b"nope"))


def test_spool_is_anonymous(tmp_path):
    store = ContentStore(str(tmp_path))
    with store.spool([b"ab", b"cd"]) as f:
        assert f.read() == b"abcd"
        assert os.listdir(store.ingest_dir) == []
