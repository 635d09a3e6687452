"""Produce a tar as a stream of chunks without holding it in memory: a writer thread fills a
bounded queue that the consumer (a gRPC request iterator) drains."""

import queue
import tarfile
import threading

CHUNK = 1 << 20
_END = object()


class _Cancelled(Exception):
    pass


class _QueueWriter:
    def __init__(self, q, stop):
        self.q, self.stop, self.buf = q, stop, bytearray()

    def write(self, data):
        self.buf += data
        if len(self.buf) >= CHUNK:
            self.flush()
        return len(data)

    def flush(self):
        if self.buf:
            self._put(bytes(self.buf))
            self.buf = bytearray()

    def _put(self, item):
        while True:
            if self.stop.is_set():
                raise _Cancelled()
            try:
                self.q.put(item, timeout=0.5)
                return
            except queue.Full:
                continue


def stream(fill):
    """`fill(tf)` adds members to a tarfile.TarFile; yields the tar's bytes in chunks. An error
    raised by `fill` is raised to the consumer."""
    q = queue.Queue(maxsize=8)
    stop = threading.Event()
    failure = []

    def run():
        w = _QueueWriter(q, stop)
        try:
            tf = tarfile.open(fileobj=w, mode="w|", format=tarfile.PAX_FORMAT)
            fill(tf)
            tf.close()
            w.flush()
        except _Cancelled:
            return
        except BaseException as exc:  # handed to the consumer
            failure.append(exc)
        try:
            w._put(_END)
        except _Cancelled:
            pass

    t = threading.Thread(target=run, name="build-tar", daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                break
            yield item
        if failure:
            raise failure[0]
    finally:
        stop.set()
        t.join(5)
