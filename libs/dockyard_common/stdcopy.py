"""Docker's multiplexed stream framing: an 8-byte header (stream, 0, 0, 0, big-endian length)."""

import struct

STDIN, STDOUT, STDERR, SYSTEM = 0, 1, 2, 3


def frame(stream, data):
    return struct.pack(">BxxxL", stream, len(data)) + data


def parse(buf):
    """Split complete frames off `buf`; returns ([(stream, data)...], rest)."""
    out = []
    while len(buf) >= 8:
        stream, size = struct.unpack(">BxxxL", buf[:8])
        if len(buf) < 8 + size:
            break
        out.append((stream, buf[8:8 + size]))
        buf = buf[8 + size:]
    return out, buf
