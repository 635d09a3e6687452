"""zstd-compressed layers (application/vnd.oci.image.layer.v1.tar+zstd) read as a stream.

The `zstandard` decoder gives bounded reads, but ends quietly when its input stops in the middle
of a frame; Docker's decoder calls that an unexpected EOF. So the compressed bytes also go through
FrameWalker, which follows the frame and block headers (never the contents) and tells at the end
whether the input stopped on a frame boundary.
"""

from dockyard_common import errors

MAGIC = b"\x28\xb5\x2f\xfd"
_FRAME = 0xFD2FB528
_SKIPPABLE_MASK, _SKIPPABLE = 0xFFFFFFF0, 0x184D2A50
_DICT_ID_BYTES = (0, 1, 2, 4)
_BLOCK_RLE, _BLOCK_RESERVED = 1, 3


def _le(data):
    return int.from_bytes(data, "little")


class FrameWalker:
    """feed() the compressed bytes in order; complete() says whether they are whole frames.
    Raises ValueError on bytes that cannot start a frame or a block."""

    def __init__(self):
        self._skip = 0           # frame bytes to pass over (header fields, block contents)
        self._buf = b""          # bytes of the header being gathered
        self._need = 4
        self._state = self._magic
        self._checksum = False

    def feed(self, data):
        pos, end = 0, len(data)
        while pos < end:
            if self._skip:
                n = min(self._skip, end - pos)
                self._skip -= n
                pos += n
                continue
            take = min(self._need - len(self._buf), end - pos)
            self._buf += data[pos:pos + take]
            pos += take
            if len(self._buf) == self._need:
                header, self._buf = self._buf, b""
                self._state(header)

    def complete(self):
        return self._state == self._magic and not self._buf and not self._skip

    def _expect(self, n, state, skip=0):
        self._need, self._state, self._skip = n, state, skip

    def _magic(self, b):
        magic = _le(b)
        if magic == _FRAME:
            self._expect(1, self._descriptor)
        elif magic & _SKIPPABLE_MASK == _SKIPPABLE:
            self._expect(4, self._skippable)
        else:
            raise ValueError("not a zstd frame (magic %08x)" % magic)

    def _skippable(self, b):
        self._expect(4, self._magic, skip=_le(b))

    def _descriptor(self, b):
        d = b[0]
        single_segment = (d >> 5) & 1
        fcs_bytes = (single_segment, 2, 4, 8)[d >> 6]
        self._checksum = bool((d >> 2) & 1)
        rest = (0 if single_segment else 1) + _DICT_ID_BYTES[d & 3] + fcs_bytes
        self._expect(3, self._block, skip=rest)

    def _block(self, b):
        header = _le(b)
        last, kind, size = header & 1, (header >> 1) & 3, header >> 3
        if kind == _BLOCK_RESERVED:
            raise ValueError("reserved zstd block type")
        skip = 1 if kind == _BLOCK_RLE else size
        if last:
            self._expect(4, self._magic, skip=skip + (4 if self._checksum else 0))
        else:
            self._expect(3, self._block, skip=skip)


class _WalkedSource:
    """The compressed input, shown to the walker as the decoder reads it."""

    def __init__(self, fileobj, walker):
        self._f = fileobj
        self._walker = walker

    def read(self, n=-1):
        data = self._f.read(n)
        if data:
            self._walker.feed(data)
        return data


class ZstdReader:
    """read(n): the uncompressed bytes of a zstd stream (one or more frames) from fileobj.
    Corrupt or truncated input raises errors.InvalidArgument."""

    def __init__(self, fileobj, chunk=1024 * 1024):
        import zstandard     # the C extension, loaded only once a zstd layer shows up
        self._error = zstandard.ZstdError
        self._walker = FrameWalker()
        self._source = _WalkedSource(fileobj, self._walker)
        self._reader = zstandard.ZstdDecompressor().stream_reader(
            self._source, read_size=chunk, read_across_frames=True, closefd=False)
        self._chunk = chunk
        self._done = False

    def readable(self):
        return True

    def read(self, n=-1):
        if self._done:
            return b""
        if n is None or n < 0:
            n = self._chunk
        try:
            out = self._reader.read(n)
            if not out:
                self._finish()
        except (self._error, ValueError) as exc:
            raise errors.InvalidArgument("invalid zstd stream: %s" % exc) from None
        return out

    def _finish(self):
        self._done = True
        while self._source.read(self._chunk):    # whatever the decoder left: must be frames
            pass
        if not self._walker.complete():
            raise ValueError("unexpected EOF")

    def readinto(self, b):
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def close(self):
        self._reader.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
