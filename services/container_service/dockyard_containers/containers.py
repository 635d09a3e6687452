"""Container records: the Containers API over the store, plus each container's directory."""

import logging
import os
import shutil

from dockyard_common import errors

log = logging.getLogger(__name__)


class Containers:
    def __init__(self, store, tasks, layout):
        self.store = store
        self.tasks = tasks
        self.layout = layout

    def create(self, rec):
        rec = self.store.create(rec)
        # The shim-runner writes the log here; the directory lives as long as the record.
        os.makedirs(self.layout.container_dir(rec.id), exist_ok=True)
        if not rec.log_path:
            rec.log_path = self.layout.container_log(rec.id)
        return rec

    def get(self, ref):
        rec = self.store.get(ref)
        if not rec.log_path:
            rec.log_path = self.layout.container_log(rec.id)
        return rec

    def list(self, all=True):
        return self.store.list(all=all)

    def update(self, ref, manually_stopped=None, **docs):
        cid = self.store.get(ref).id
        if manually_stopped is not None:
            with self.tasks.lock(cid):
                state = self.store.get(cid).state
                state.manually_stopped = manually_stopped
                self.store.set_state(cid, state)
        return self.store.update(cid, **docs)

    def rename(self, ref, new_name):
        return self.store.rename(ref, new_name)

    def delete(self, ref):
        rec = self.store.get(ref)
        with self.tasks.lock(rec.id):
            state = self.store.get(rec.id).state
            if state.paused:
                raise errors.FailedPrecondition(
                    "You cannot remove a paused container %s. Unpause and then stop the container "
                    "before attempting removal or force remove" % rec.id)
            if state.running:
                raise errors.FailedPrecondition(
                    "You cannot remove a running container %s. Stop the container before "
                    "attempting removal or force remove" % rec.id)
            # A created (never started) task still has a monitor: drop it with the record.
            try:
                self.tasks.drop_task(rec.id)
            except errors.Unavailable as exc:
                log.warning("shim unavailable at delete: %s", exc, extra={"container_id": rec.id})
            self.store.delete(rec.id)
            shutil.rmtree(self.layout.container_dir(rec.id), ignore_errors=True)
        self.tasks.forget(rec.id)
