"""Progress of a pull or push as a stream of dicts (Docker's JSON progress lines).

The work runs in its own thread (and may fan out to a thread pool); each emit() goes through a
queue to the consumer, which is the gRPC response generator. When the consumer goes away, the
next emit() raises Cancelled in the worker, so a cancelled pull stops at its next chunk.
"""

import queue
import threading

_END = object()


class Cancelled(Exception):
    pass


def human_size(n):
    """docker/go-units HumanSizeWithPrecision(n, 4): decimal units, 4 significant digits."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    size, i = float(n), 0
    while size >= 1000 and i < len(units) - 1:
        size /= 1000.0
        i += 1
    return "%.4g%s" % (size, units[i])


def bar(current, total):
    """Docker's progress string: "[=====>      ]  1.2MB/3.4MB" (jsonmessage.JSONProgress)."""
    if total <= 0:
        return "%8s" % human_size(current)
    filled = min(int(current * 100 / total) // 2, 50)
    return "[%s>%s] %8s/%s" % ("=" * filled, " " * (50 - filled), human_size(current),
                               human_size(total))


class ProgressStream:
    """Iterate over the dicts work(emit) emits; work's exception is raised at the end."""

    def __init__(self, work, maxsize=256):
        self.work = work
        self.queue = queue.Queue(maxsize)
        self.cancelled = threading.Event()
        self.error = None
        self.thread = None

    def _put(self, item):
        """Queue item, waiting while the queue is full; False once the consumer has cancelled."""
        while True:
            try:
                self.queue.put(item, timeout=0.5)
                return True
            except queue.Full:
                if self.cancelled.is_set():
                    return False

    def emit(self, **event):
        if self.cancelled.is_set() or not self._put(event):
            raise Cancelled()

    def cancel(self):
        self.cancelled.set()

    def _run(self):
        try:
            self.work(self.emit)
        except BaseException as exc:   # handed to the consumer
            self.error = exc
        finally:
            self._put(_END)

    def __iter__(self):
        self.thread = threading.Thread(target=self._run, name="progress", daemon=True)
        self.thread.start()
        try:
            while True:
                event = self.queue.get()
                if event is _END:
                    break
                yield event
        finally:
            self.cancel()
        self.thread.join()
        if self.error is not None and not isinstance(self.error, Cancelled):
            raise self.error
