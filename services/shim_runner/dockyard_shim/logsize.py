"""The bytes dockerd's json-file and local drivers write for each log message, so that conmon's log
is rotated where dockerd would rotate its own (max-size counts the driver's format, which is not
conmon's): the same lines then land in the same files, and `docker logs` keeps the same ones.

dockerd's copier makes messages of whole lines, a line longer than its 16 KiB buffer becomes
16384-byte partial messages (all with the first one's time); a Sizer rebuilds them from conmon's
F/P lines, keeping at most 16 KiB per stream pending.
"""

from . import logs

# json-file (jsonlog.MarshalJSONBuf): {"log":<text>,"stream":"stdout","time":"<RFC3339Nano>"}\n
_JSON_FIXED = len('{"log":') + len(',"stream":"stdout"') + len(',"time":""}') + 1
# jsonlog's escaping: these take 2 bytes, other control bytes and <>& six (\u00XX).
_TWO = frozenset(b'\\"\n\r')
_ORDINARY = bytes(b for b in range(0x20, 0x80) if b not in b'\\"<>&')
_LINE_SEPARATORS = ("\u2028", "\u2029")     # escaped as \u2028: 6 bytes instead of 3


def _time_len(ns):
    """len of Go's RFC3339Nano in UTC: trailing zeros of the fraction (and a bare dot) dropped."""
    frac = ns % 1_000_000_000
    if not frac:
        return 20
    digits = 9
    while frac % 10 == 0:
        frac //= 10
        digits -= 1
    return 21 + digits


def _json_string_len(data):
    size = len(data) + 2
    for b in data.translate(None, _ORDINARY):
        if b < 0x80:
            size += 1 if b in _TWO else 5
    if not data.isascii():
        text = data.decode("utf-8", "surrogateescape")
        size += 5 * sum(1 for c in text if "\udc80" <= c <= "\udcff")   # each bad byte: \ufffd
        size += 3 * sum(text.count(c) for c in _LINE_SEPARATORS)
    return size


def json_file_size(data, time_ns):
    return _JSON_FIXED + _json_string_len(data) + _time_len(time_ns)


def _varint_len(n):
    size = 1
    while n >= 0x80:
        n >>= 7
        size += 1
    return size


def _field_len(n):   # a length-delimited protobuf field of n bytes, with its tag
    return 1 + _varint_len(n) + n


def local_size(data, time_ns, ordinal=0, last=False):
    """A local-driver record: 4-byte length, the LogEntry protobuf, 4-byte length. Its line has
    no newline; the pieces of a long line carry PartialLogEntryMetadata (64-hex id, ordinal)."""
    line = data[:-1] if data.endswith(b"\n") else data
    size = _field_len(6) + 1 + _varint_len(time_ns & (2 ** 64 - 1))     # source, time_nano
    if line:
        size += _field_len(len(line))
    if ordinal:
        meta = (2 if last else 0) + _field_len(64) + 1 + _varint_len(ordinal)
        size += 2 + _field_len(meta)                                       # partial, metadata
    return 8 + size


class Sizer:
    """Feed conmon's log lines in order; each call returns the bytes of the dockerd messages the
    line completes."""

    def __init__(self, driver):
        self.local = driver == "local"
        self.pending = {}       # stream -> [first piece's time, bytes < 16 KiB, next ordinal]

    def _size(self, data, time_ns, ordinal, last):
        if self.local:
            return local_size(data, time_ns, ordinal, last)
        return json_file_size(data, time_ns)

    def feed(self, line):
        parsed = logs.parse_line(line.rstrip(b"\n"))
        if parsed is None:
            return 0
        t, stream, partial, text = parsed
        held = self.pending.pop(stream, None) or [t, b"", 0]
        held[1] += text if partial else text + b"\n"
        size = 0
        while len(held[1]) >= logs.PIECE_SIZE and (partial or len(held[1]) > logs.PIECE_SIZE):
            held[2] += 1
            size += self._size(held[1][:logs.PIECE_SIZE], held[0], held[2], False)
            held[1] = held[1][logs.PIECE_SIZE:]
        if partial:
            self.pending[stream] = held
        else:
            size += self._size(held[1], held[0], held[2] + 1 if held[2] else 0, True)
        return size
