"""Log entries as dockerd's json-file driver hands them back.

json-file stores each line as a JSON string, so bytes that are not UTF-8 come back as U+FFFD
(Go's encoder replaces each invalid byte), and the log copier cuts lines longer than its 16 KiB
buffer into partial messages that `docker logs` receives as separate frames, each with the
line's timestamp.
"""

import codecs

PARTIAL_SIZE = 16 * 1024


def _go_replace(exc):
    # Go's utf8.DecodeRune rejects one byte at a time: one U+FFFD per byte of the bad sequence.
    return "\ufffd" * (exc.end - exc.start), exc.end


codecs.register_error("dockyard-go-utf8", _go_replace)


def as_json_file(data):
    """`data` as it reads back from a json-file log."""
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError:
        return data.decode("utf-8", "dockyard-go-utf8").encode("utf-8")


def pieces(data):
    """The messages json-file would hold for one line: <= 16 KiB each, the newline in the last."""
    if len(data) <= PARTIAL_SIZE:
        return [data]
    return [data[i:i + PARTIAL_SIZE] for i in range(0, len(data), PARTIAL_SIZE)]
