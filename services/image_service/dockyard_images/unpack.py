"""Apply a layer tar to a directory, safely, turning OCI whiteouts into overlay ones.

The extractor itself lives in dockyard_common.safetar (the shim-runner's `docker cp` uses it
too); this module keeps the image-service's names for it, and adds LayerReader: a layer blob's
chunks (as they arrive from a registry, or from the content store) decompressed and hashed on
the fly, so a pull unpacks and checks the diff id in the same pass that downloads the blob.
"""

import hashlib
import zlib

from dockyard_common import errors
from dockyard_common.safetar import OPAQUE, OPAQUE_XATTR, WHITEOUT_PREFIX, Unsafe, clean_parts  # noqa: F401
from dockyard_common.safetar import unpack_layer

from . import archive, zstd

CHUNK = 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


def unpack(fileobj, dest):
    """Extract the (uncompressed) layer tar read from fileobj into dest. Returns the number of
    bytes of regular files written (Docker's layer size)."""
    return unpack_layer(fileobj, dest)


class LayerReader:
    """read(n) gives the uncompressed tar of a layer blob whose bytes come from `chunks` (an
    iterable of bytes): gzip (also multi-member) and plain tars natively, bzip2, xz and zstd
    through archive.decompressed. Everything returned is hashed: after the last byte, diff_id()
    is the layer's diff id and size its length. A corrupt stream raises errors.InvalidArgument."""

    def __init__(self, chunks, chunk=CHUNK):
        self._chunks = iter(chunks)
        self._chunk = chunk
        self._hash = hashlib.sha256()
        self.size = 0
        self._input = b""        # plain: bytes not yet returned; gzip: input not yet fed
        self._dec = None         # zlib decompressor of the current gzip member
        self._other = None       # file object for bzip2 / xz
        self._done = False
        head = b""
        while len(head) < 6:
            data = self._next()
            if not data:
                break
            head += data
        self._input = head
        if head.startswith(_GZIP_MAGIC):
            self._dec = zlib.decompressobj(31)
        elif head.startswith((b"BZh", b"\xfd7zXZ\x00", zstd.MAGIC)):
            self._other = archive.decompressed(_ChunkFile(self))

    def _next(self):
        for data in self._chunks:
            if data:
                return data
        return b""

    def diff_id(self):
        return "sha256:" + self._hash.hexdigest()

    def read(self, n=-1):
        if n is None or n < 0:
            n = self._chunk
        if self._done or n == 0:
            return b""
        try:
            if self._dec is not None:
                out = self._read_gzip(n)
            elif self._other is not None:
                out = self._other.read(n)
            else:
                out = self._read_plain(n)
        except (zlib.error, EOFError, OSError, ValueError) as exc:
            raise errors.InvalidArgument("layer is not a valid compressed tar: %s" % exc) from None
        if out:
            self._hash.update(out)
            self.size += len(out)
        else:
            self._done = True
        return out

    def drain(self):
        """Read (and hash) whatever is left, e.g. the padding after the tar's end marker."""
        while self.read(self._chunk):
            pass

    def _read_plain(self, n):
        if not self._input:
            self._input = self._next()
        out, self._input = (self._input, b"") if len(self._input) <= n else \
            (self._input[:n], self._input[n:])
        return out

    def _read_gzip(self, n):
        dec = self._dec
        while True:
            if dec.eof:
                # Another member may follow (zero padding after the last one is allowed, as
                # Python's and Go's gzip readers do).
                rest = dec.unused_data.lstrip(b"\0")
                while not rest:
                    rest = self._next()
                    if not rest:
                        return b""
                    rest = rest.lstrip(b"\0")
                dec = self._dec = zlib.decompressobj(31)
                self._input = rest
            data = dec.unconsumed_tail or self._input or self._next()
            self._input = b""
            out = dec.decompress(data, n)
            if out:
                return out
            if not data and not dec.eof:
                raise EOFError("compressed stream ends early")

    def _raw_read(self, n):
        """Compressed bytes for the bzip2 / xz decoder (the sniffed head first)."""
        if self._input:
            out, self._input = self._input, b""
            return out
        return self._next()


class _ChunkFile:
    """The raw compressed bytes of a LayerReader as a file (for bz2 / lzma file objects)."""

    def __init__(self, reader):
        self._reader = reader
        self._buf = b""

    def readable(self):
        return True

    def read(self, n=-1):
        if not self._buf:
            self._buf = self._reader._raw_read(n)
        if n is None or n < 0 or len(self._buf) <= n:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def readinto(self, b):
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def peek(self, n=0):
        if not self._buf:
            self._buf = self._reader._raw_read(n)
        return self._buf


def unpack_chunks(chunks, dest):
    """Unpack the layer blob coming as chunks into dest (None: only read it through). Returns
    (layer size, diff id, uncompressed tar size); the whole stream is read and hashed."""
    reader = LayerReader(chunks)
    size = unpack_layer(reader, dest) if dest is not None else 0
    reader.drain()
    return size, reader.diff_id(), reader.size
