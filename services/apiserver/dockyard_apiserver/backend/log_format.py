"""Log entries as dockerd's json-file driver hands them back.

json-file stores each line as a JSON string, so bytes that are not UTF-8 come back as U+FFFD
(Go's encoder replaces each invalid byte). Lines longer than dockerd's 16 KiB copy buffer already
come from shim-runner as separate 16384-byte messages (it owns that rule: tail counts them).
"""

import codecs


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



def reader_for(driver):
    """How a driver hands lines back: the local driver keeps bytes as they are (protobuf)."""
    return (lambda data: data) if driver == "local" else as_json_file
