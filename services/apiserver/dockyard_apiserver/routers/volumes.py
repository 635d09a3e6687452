"""/volumes/*: a thin facade over volume-service with Docker's shapes and messages."""

import os
import re

from flask import Blueprint

from dockyard_api.volumes.v1 import volumes_pb2
from dockyard_common import errors, ids

from ..api_types import VOLUME_CREATE
from ..backend import event_attrs
from ..backend.volume_views import volume_json
from ..events import match_labels
from ..webutil import (clients, daemon, empty, exact_bool, filter_bool, filters_arg, json_body, json_response,
                       qbool)

bp = Blueprint("volumes", __name__)

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


def _get(name):
    try:
        return clients().volumes.Get(volumes_pb2.GetVolumeRequest(name=name))
    except errors.NotFound:
        raise errors.NotFound("get %s: no such volume" % name)


def _event(action, name, driver=None):
    event_attrs.emit_volume(daemon().events, action, name, driver)


@bp.post("/volumes/create")
def create_volume():
    body = json_body(required=False, schema=VOLUME_CREATE)
    name = body.get("Name") or ""
    driver = body.get("Driver") or "local"
    if driver != "local":
        raise errors.NotFound('create %s: error looking up volume plugin %s: plugin "%s" not found'
                              % (name or ids.new_id(), driver, driver))
    if name and not _NAME.match(name):
        raise errors.InvalidArgument(
            'create %s: "%s" includes invalid characters for a local volume name, only '
            '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
            'use absolute path' % (name, name))
    labels = body.get("Labels") or {}
    opts = body.get("DriverOpts") or {}
    if not isinstance(labels, dict) or not isinstance(opts, dict):
        raise errors.InvalidArgument("Labels and DriverOpts must be objects")
    req = volumes_pb2.CreateVolumeRequest(name=name, driver=driver,
                                          labels={str(k): str(v) for k, v in labels.items()},
                                          driver_opts={str(k): str(v) for k, v in opts.items()})
    try:
        vol = clients().volumes.Create(req)
    except errors.Conflict:
        vol = _get(name)   # creating an existing volume returns it (as Docker)
    _event("create", vol.name, vol.driver)  # dockerd reports both
    return json_response(volume_json(vol), status=201)


def _list(flt):
    for key in flt:
        if key not in ("dangling", "label", "name", "driver"):
            raise errors.InvalidArgument("Invalid filter '%s'" % key)
    dangling = exact_bool(flt, "dangling")
    out = []
    for v in clients().volumes.List(volumes_pb2.ListVolumesRequest()).volumes:
        if dangling is not None and dangling != (v.ref_count == 0):
            continue
        if not match_labels(flt, dict(v.labels)):
            continue
        if flt.get("name") and not any(n in v.name for n in flt["name"]):
            continue
        if flt.get("driver") and (v.driver or "local") not in flt["driver"]:
            continue
        out.append(v)
    return out


@bp.get("/volumes")
def list_volumes():
    return json_response({"Volumes": [volume_json(v) for v in _list(filters_arg())], "Warnings": []})


@bp.get("/volumes/<name>")
def inspect_volume(name):
    return json_response(volume_json(_get(name)))


@bp.delete("/volumes/<name>")
def remove_volume(name):
    force = qbool("force")
    try:
        clients().volumes.Remove(volumes_pb2.RemoveVolumeRequest(name=name, force=force))
    except errors.NotFound:
        if force:
            return empty()
        raise errors.NotFound("get %s: no such volume" % name)
    except (errors.FailedPrecondition, errors.Conflict) as exc:
        msg = exc.message
        if "volume is in use" not in msg:
            msg = "remove %s: volume is in use - %s" % (name, msg)
        raise errors.Conflict(msg)
    _event("destroy", name)
    return empty()


@bp.post("/volumes/prune")
def prune_volumes():
    flt = filters_arg()
    for key in flt:
        if key not in ("label", "label!", "all"):
            raise errors.InvalidArgument("Invalid filter '%s'" % key)
    # API >= 1.42 (dockerd 23+) prunes only anonymous volumes unless all=true; the acceptance
    # suite follows dockerd 20.10, which prunes unused named volumes too. We do that unless the
    # client explicitly asks for all=false.
    explicit = filter_bool(flt, "all")
    prune_all = explicit if explicit is not None else True
    removed, reclaimed = [], 0
    for v in clients().volumes.List(volumes_pb2.ListVolumesRequest()).volumes:
        if v.ref_count or (not prune_all and not v.anonymous):
            continue
        labels = dict(v.labels)
        if not match_labels(flt, labels):
            continue
        if any(_label_hit(labels, x) for x in flt.get("label!", ())):
            continue
        size = _du(v.mountpoint)
        try:
            clients().volumes.Remove(volumes_pb2.RemoveVolumeRequest(name=v.name))
        except (errors.FailedPrecondition, errors.Conflict, errors.NotFound):
            continue
        _event("destroy", v.name, v.driver)
        removed.append(v.name)
        reclaimed += size
    event_attrs.emit_prune(daemon().events, "volume", reclaimed)
    return json_response({"VolumesDeleted": removed or None, "SpaceReclaimed": reclaimed})


def _label_hit(labels, want):
    k, eq, val = want.partition("=")
    return k in labels and (not eq or labels[k] == val)


def _du(path):
    total = 0
    for root, _dirs, files in os.walk(path or "/nonexistent"):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total

