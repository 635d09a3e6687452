"""The classic builder's cache: a step is a hit when an image exists whose parent is the
current image and whose last history line ("created_by") is the step's (moby compares the
image's ContainerConfig, of which Cmd carries the same text). The index is built from one
Images.List per build and extended with the images the build commits."""

import json
import threading

from dockyard_common import ids


def _created_by(img):
    try:
        cfg = json.loads(img.config_json or b"{}")
    except ValueError:
        return None
    history = cfg.get("history") or []
    return history[-1].get("created_by") if history else None


class CacheIndex:
    def __init__(self, images=()):
        self._lock = threading.Lock()
        self._by_key = {}   # (parent id, created_by) -> (created ns, image id)
        for img in images:
            self.add(img)

    def add(self, img):
        created_by = _created_by(img)
        if created_by is None:
            return
        try:
            created = ids.rfc3339_to_ns(img.created)
        except ValueError:
            created = 0
        key = (img.parent or "", created_by)
        with self._lock:
            cur = self._by_key.get(key)
            if cur is None or created >= cur[0]:
                self._by_key[key] = (created, img.id)

    def lookup(self, parent_id, created_by):
        with self._lock:
            hit = self._by_key.get((parent_id or "", created_by))
        return hit[1] if hit else None

    def forget(self, parent_id, created_by):
        with self._lock:
            self._by_key.pop((parent_id or "", created_by), None)
