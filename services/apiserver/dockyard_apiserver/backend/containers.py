"""Container orchestration over gRPC (dockerd's daemon/create.go, start.go, delete.go, ...).

The apiserver keeps no persistent state: everything about a container lives in its record at
container-service; this module ties images, snapshots, networks, volumes and tasks together.
"""

import json
import logging
import os
import socket
import subprocess
import threading
import time

from dockyard_api.containers.v1 import containers_pb2
from dockyard_api.networks.v1 import networks_pb2
from dockyard_api.images.v1 import images_pb2
from dockyard_api.shim.v1 import shim_pb2
from dockyard_api.snapshots.v1 import snapshots_pb2
from dockyard_api.tasks.v1 import tasks_pb2
from dockyard_api.types.v1 import types_pb2
from dockyard_api.volumes.v1 import volumes_pb2
from dockyard_common import errors, ids
from dockyard_common import reference as shared_reference

from ..logresume import ResumingLogs
from . import container_config as cc
from . import container_links
from . import container_namespaces as namespaces
from . import event_attrs
from . import image_platform
from . import reference
from . import stats_shape
from . import volume_copy
from . import container_views as views
from .container_exec import ExecOps, ExecStore
from .container_networks import ContainerNetworks

log = logging.getLogger(__name__)

EMPTY = types_pb2.Empty()
SIGKILL, SIGTERM = 9, 15
# Runtime messages the CLI turns into exit codes 127/126: dockerd answers them with 400.
_USER_ERRORS = ("executable file not found", "no such file or directory", "permission denied",
                "is a directory", "not a directory")


def _build_spec(*args, **kwargs):
    from dockyard_common import oci
    return oci.build_spec(*args, **kwargs)


def _ignore(fn, *args, kinds=(errors.NotFound,)):
    try:
        return fn(*args)
    except kinds:
        return None
    except errors.DockyardError as exc:
        log.warning("cleanup step failed: %s", exc)
        return None


GO_MODE_DIR, GO_MODE_SYMLINK = 1 << 31, 1 << 27     # PathStat.mode is a Go os.FileMode


def listed_image(image, image_id, names):
    """moby daemon/list.go: a container lists the reference it was created from while that still
    names its image; once the tag moved or went away, the image id."""
    if not image or image == image_id or shared_reference.is_id_prefix(image_id, image):
        return image or image_id
    try:
        key = shared_reference.normalize_tag(image)
    except errors.InvalidArgument:
        return image_id
    return image if names.get(key) == image_id else image_id


class ContainerBackend(ExecOps):
    """What routers/containers.py needs (see its `Backend` protocol)."""

    build_spec = staticmethod(_build_spec)

    def __init__(self, daemon):
        self.daemon = daemon
        self.c = daemon.clients
        self._locks = {}
        self._locks_guard = threading.Lock()
        # Containers stopped through the API: a restart policy does not bring them back.
        self.manually_stopped = set()
        self.execs = ExecStore()
        self.nets = ContainerNetworks(self)

    # ------------------------------------------------------------------ helpers
    def lock(self, cid):
        with self._locks_guard:
            return self._locks.setdefault(cid, threading.RLock())

    def get(self, ref):
        try:
            return self.c.containers.Get(containers_pb2.GetContainerRequest(ref=ref))
        except errors.NotFound:
            raise errors.NotFound("No such container: %s" % ref) from None

    def emit(self, rec, action, **extra):
        self.daemon.events.emit("container", action, rec.id, event_attrs.container(rec, **extra))

    @staticmethod
    def config_of(rec):
        return views.loads(rec.config_json, {}) or {}

    @staticmethod
    def host_config_of(rec):
        return views.loads(rec.host_config_json, {}) or {}

    # ------------------------------------------------------------------ create
    def create(self, name, body, platform=None):
        """platform: the Platform the image must be for (?platform=, API >= 1.41), or None."""
        config, hc, networking = cc.split_create_body(body)
        if name:
            name = cc.validate_name(name)
        warnings = cc.validate_host_config(hc)
        namespaces.normalize(hc, self.get)  # dockerd looks the donors up before the image
        image = self._image(config["Image"])
        warnings += image_platform.check(config["Image"], image, platform)
        image_cfg = (views.loads(image.config_json, {}) or {}).get("config") or {}
        config = cc.merge_image_config(config, image_cfg)
        plan = cc.plan_mounts(config, hc, self._volumes_from(hc))
        if name:
            self._check_name_free(name)
        else:
            name = self._random_name()
        links = container_links.prepare(self, name, hc, networking)
        cid = ids.new_id()
        undo = []
        try:
            record = self._create_resources(cid, name, config, hc, networking, image, plan, undo,
                                            links)
            try:
                created = self.c.containers.Create(record)
            except errors.Conflict as exc:
                raise errors.Conflict(self._conflict_message(name, str(exc))) from None
        except BaseException:
            for step in reversed(undo):
                try:
                    step()
                except Exception as exc:  # best effort: report the original error
                    log.warning("undo of create %s failed: %s", cid[:12], exc)
            raise
        self.emit(created, "create")
        return {"Id": cid, "Warnings": warnings}

    def _image(self, ref):
        if not reference.looks_like_id(ref):
            reference.parse(ref)  # 400 "invalid reference format" before any lookup
        try:
            return self.c.images.Get(images_pb2.GetImageRequest(ref=ref))
        except errors.NotFound:
            raise errors.NotFound("No such image: %s" % reference.normalize_lookup(ref)) from None

    def _conflict_message(self, name, detail):
        if "already in use" in detail:
            return detail
        try:
            other = self.get(name).id
        except errors.NotFound:
            other = ""
        return ('Conflict. The container name "/%s" is already in use by container "%s". '
                "You have to remove (or rename) that container to be able to reuse that name."
                % (name, other))

    def _check_name_free(self, name):
        try:
            rec = self.c.containers.Get(containers_pb2.GetContainerRequest(ref=name))
        except errors.NotFound:
            return
        if rec.name == name:
            raise errors.Conflict(self._conflict_message(name, ""))

    def _random_name(self):
        for _ in range(20):
            name = ids.random_name()
            try:
                self._check_name_free(name)
                return name
            except errors.Conflict:
                continue
        return "%s_%s" % (ids.random_name(), ids.new_id()[:6])

    def _check_working_dir(self, key, path):
        """dockerd's SetupWorkingDirectory at create: a working dir that exists as something else
        than a directory fails the create (a missing one is made by the runtime at start)."""
        if not path or path == "/":
            return
        path = path.rstrip("/")
        try:
            st = self.c.snapshots.StatPath(snapshots_pb2.PathRequest(key=key, path=path))
            if st.mode & GO_MODE_SYMLINK and st.link_target:   # followed, as GetResourcePath
                st = self.c.snapshots.StatPath(snapshots_pb2.PathRequest(key=key, path=st.link_target))
        except errors.NotFound:
            return
        if not st.mode & GO_MODE_DIR:
            raise errors.InvalidArgument("Cannot mkdir: %s is not a directory" % path)

    def _create_resources(self, cid, name, config, hc, networking, image, plan, undo, links=()):
        # Snapshot: the container's writable layer over its init layer on top of the image.
        resp = self.c.snapshots.Prepare(snapshots_pb2.PrepareSnapshotRequest(
            key=cid, parent=image.chain_id, init_layer=True))
        undo.append(lambda: self.c.snapshots.Remove(snapshots_pb2.SnapshotKey(key=cid)))
        self._check_working_dir(cid, config.get("WorkingDir"))

        mode = hc.get("NetworkMode") or "default"
        if mode == "host":
            hostname = config.get("Hostname") or socket.gethostname()
        else:
            hostname = config.get("Hostname") or cid[:12]
        config["Hostname"] = hostname
        net = self.nets.plan(cid, name, config, hc, networking, undo)
        if links and container_links.DEFAULT_BRIDGE in net["networks"]:
            net["networks"][container_links.DEFAULT_BRIDGE]["links"] = links
        hostname = config["Hostname"]  # container:<id> mode takes the other one's
        namespaces.record_network_mode(hc, net)

        docker_mounts, user_mounts = [], []
        for entry in plan:
            self._resolve_mount(cid, entry, undo)
            user_mounts.append(cc.oci_mount(entry))
            docker_mounts.append(cc.docker_mount(entry))
        taken = {m["destination"] for m in user_mounts}
        mounts = []
        for key, target in (("hosts_path", "/etc/hosts"), ("resolv_conf_path", "/etc/resolv.conf"),
                            ("hostname_path", "/etc/hostname")):
            if net.get(key) and target not in taken:  # a file bound by the user wins
                mounts.append({"destination": target, "type": "bind", "source": net[key],
                               "options": ["rbind", "rprivate", "ro" if hc.get("ReadonlyRootfs") else "rw"]})
        mounts += user_mounts

        spec = self.build_spec(config, hc, container_id=cid, netns_path=net.get("netns_path") or None,
                               hostname=hostname, mounts=mounts, cgroups_path="/dockyard/" + cid)
        labels = {str(k): str(v) for k, v in (config.get("Labels") or {}).items()}
        return containers_pb2.Container(
            id=cid, name=name, image=config["Image"], image_id=image.id,
            config_json=json.dumps(config).encode(), host_config_json=json.dumps(hc).encode(),
            spec_json=json.dumps(spec).encode(), rootfs=list(resp.mounts), snapshot_key=cid,
            created=ids.now_rfc3339(), runtime=hc.get("Runtime") or "runc",
            network_json=json.dumps(net).encode(), resolv_conf_path=net.get("resolv_conf_path", ""),
            hostname_path=net.get("hostname_path", ""), hosts_path=net.get("hosts_path", ""),
            log_path=self.daemon.layout.container_log(cid), labels=labels,
            mounts_json=json.dumps(docker_mounts).encode())

    def _volumes_from(self, hc):
        """Plan entries of `--volumes-from`: the other containers' volumes and binds."""
        entries = []
        for spec in hc.get("VolumesFrom") or []:
            ref, mode = cc.parse_volumes_from(spec)
            other = self.get(ref)
            entries += cc.inherited_entries(views.loads(other.mounts_json, []), mode)
        return entries

    def _resolve_mount(self, cid, entry, undo):
        if entry["kind"] == "volume":
            inherited = bool(entry.get("inherited"))
            try:
                vol = self.c.volumes.Acquire(volumes_pb2.AcquireVolumeRequest(
                    name=entry["name"], container_id=cid, create=not inherited,
                    anonymous=entry["anonymous"], labels=entry.get("labels") or {},
                    driver=entry.get("driver") or "", driver_opts=entry.get("driver_opts") or {}))
            except errors.NotFound:
                raise errors.NotFound("get %s: no such volume" % entry["name"]) from None
            entry["name"], entry["source"] = vol.name, vol.mountpoint
            name = vol.name
            if not inherited:  # dockerd's volume service reports every Create, even of one that exists
                event_attrs.emit_volume(self.daemon.events, "create", name, vol.driver)
            undo.append(lambda: self.c.volumes.Release(volumes_pb2.ReleaseVolumeRequest(name=name, container_id=cid)))
            if entry["anonymous"] and not inherited:
                undo.append(lambda: _ignore(self.c.volumes.Remove, volumes_pb2.RemoveVolumeRequest(name=name)))
            if not entry.get("nocopy"):
                self._copy_up(cid, entry)
        elif entry["kind"] == "bind" and entry.get("create_source") and not os.path.exists(entry["source"]):
            os.makedirs(entry["source"], exist_ok=True)  # `-v /host:/ctr` creates the host dir (dockerd does)

    def _copy_up(self, cid, entry):
        """An empty volume gets the image's content at its destination (as Docker)."""
        try:
            volume_copy.populate(self.c.snapshots, cid, entry["destination"], entry["source"])
        except OSError as exc:
            raise errors.Internal("copying the image content of %s into volume %s: %s"
                                  % (entry["destination"], entry["name"], exc)) from None

    # ------------------------------------------------------------------ start
    def start(self, ref):
        rec = self.get(ref)
        with self.lock(rec.id):
            rec = self.get(rec.id)
            st = rec.state
            if st.paused:
                raise errors.Conflict("cannot start a paused container, try unpause instead")
            if st.running:
                raise errors.NotModified()
            self.set_manually_stopped(rec, False)
            self._start_task(rec)

    def set_manually_stopped(self, rec, flag):
        """Remember (in the record, so it outlives an apiserver restart) that the user stopped the
        container: restart policies then leave it alone (dockerd's HasBeenManuallyStopped)."""
        if flag:
            self.manually_stopped.add(rec.id)
        else:
            self.manually_stopped.discard(rec.id)
        if rec.state.manually_stopped != flag:
            self.c.containers.Update(containers_pb2.UpdateContainerRequest(
                id=rec.id, manually_stopped=flag))

    def is_manually_stopped(self, rec):
        return rec.id in self.manually_stopped or rec.state.manually_stopped

    def _start_task(self, rec, restart=False):
        """Start the container's task (the caller holds its lock); `restart` is a restart by
        the policy (container-service counts it in RestartCount)."""
        cid = rec.id
        _ignore(self.c.tasks.Delete, tasks_pb2.TaskRef(id=cid),
                kinds=(errors.NotFound, errors.FailedPrecondition))
        hubs = self.daemon.hubs
        try:
            targets = container_links.check_targets(self, rec)
            joined = self.nets.attach(rec)  # endpoints and published ports live while it runs (as Docker)
            container_links.refresh_spec_env(self, rec, targets)
        except errors.DockyardError:
            hubs.task_failed(cid)
            self._after_failed_start(rec)
            raise
        event_attrs.emit_run_started(self.daemon.events, cid, joined, views.loads(rec.mounts_json, []))
        try:
            self.c.tasks.Create(tasks_pb2.CreateTaskRequest(id=cid, restart=restart))
        except errors.DockyardError as exc:
            hubs.task_failed(cid)
            self._after_failed_start(rec)
            raise self._start_error(exc) from None
        config, hc = self.config_of(rec), self.host_config_of(rec)
        size = hc.get("ConsoleSize") or [0, 0]
        if config.get("Tty") and len(size) == 2 and size[0] and size[1]:
            _ignore(self.c.shim.ResizePty, shim_pb2.ResizePtyRequest(id=cid, height=size[0], width=size[1]),
                    kinds=(errors.DockyardError,))
        hubs.task_created(cid)
        try:
            self.c.tasks.Start(tasks_pb2.TaskRef(id=cid))
        except errors.DockyardError as exc:
            hubs.task_failed(cid)
            _ignore(self.c.tasks.Kill, tasks_pb2.KillTaskRequest(id=cid, signal=SIGKILL),
                    kinds=(errors.DockyardError,))
            _ignore(self.c.tasks.Delete, tasks_pb2.TaskRef(id=cid), kinds=(errors.DockyardError,))
            self._after_failed_start(rec)
            raise self._start_error(exc) from None

    def _after_failed_start(self, rec):
        self.release_networks(rec.id)
        if self.host_config_of(rec).get("AutoRemove"):
            try:
                self.remove_resources(self.get(rec.id), remove_volumes=True)
            except errors.DockyardError as exc:
                log.warning("auto-remove after failed start of %s: %s", rec.id[:12], exc)

    def release_networks(self, cid):
        """Leave the networks of a container that is not running (stop, exit, failed start)."""
        with self.lock(cid):
            try:
                rec = self.c.containers.Get(containers_pb2.GetContainerRequest(ref=cid))
            except errors.NotFound:
                return
            if rec.state.running:
                return  # started again meanwhile
            self._end_run(rec)

    def _end_run(self, rec):
        """Leave the networks of a run that ended (the caller holds the lock and knows it is not
        running) and report it once: disconnect and unmount events, as dockerd's Cleanup."""
        try:
            left = self.nets.release(rec)
        except errors.DockyardError as exc:
            log.warning("releasing the networks of %s failed: %s", rec.id[:12], exc)
            return
        if left is not None:
            event_attrs.emit_run_ended(self.daemon.events, rec.id, left, views.loads(rec.mounts_json, []))

    @staticmethod
    def _start_error(exc):
        msg = str(exc)
        if any(s in msg for s in _USER_ERRORS):
            return errors.InvalidArgument(msg)
        return exc

    # ------------------------------------------------------------------ stop/kill
    def kill(self, ref, signal=None):
        rec = self.get(ref)
        sig = cc.parse_signal(signal, SIGKILL)
        if not rec.state.running:
            raise errors.Conflict("Cannot kill container: %s: Container %s is not running" % (ref, rec.id))
        if self._kill_ends_restarts(rec, sig):
            self.set_manually_stopped(rec, True)
        self._signal(rec, sig)

    def _kill_ends_restarts(self, rec, sig):
        """dockerd's kill: SIGKILL, or any signal when no StopSignal is set, or the StopSignal
        itself, cancels every restart policy (ExitOnNext); any other signal still ends
        unless-stopped (HasBeenManuallyStopped)."""
        config = self.config_of(rec)
        stop_signal = config.get("StopSignal")
        if sig == SIGKILL or not stop_signal or cc.parse_signal(stop_signal, None) == sig:
            return True
        policy = (self.host_config_of(rec).get("RestartPolicy") or {}).get("Name")
        return policy == "unless-stopped"

    def _signal(self, rec, sig):
        try:
            self.c.tasks.Kill(tasks_pb2.KillTaskRequest(id=rec.id, signal=sig))
        except (errors.NotFound, errors.FailedPrecondition) as exc:
            raise errors.Conflict("Cannot kill container: %s: Container %s is not running: %s"
                                  % (rec.name, rec.id, exc)) from None
        self.emit(rec, "kill", signal=sig)

    def stop(self, ref, timeout=None, signal=None):
        rec = self.get(ref)
        if not rec.state.running:
            raise errors.NotModified()
        self.set_manually_stopped(rec, True)
        self._stop(rec, timeout, signal)
        self.release_networks(rec.id)
        self.emit(rec, "stop")

    def _stop(self, rec, timeout=None, signal=None):
        config = self.config_of(rec)
        sig = cc.parse_signal(signal, None) or cc.parse_signal(config.get("StopSignal"), SIGTERM)
        if timeout is None:
            timeout = config.get("StopTimeout")
            timeout = 10 if timeout is None else int(timeout)
        waiter = self.daemon.monitor.register(rec.id, "not-running")
        try:
            if sig != SIGKILL:
                try:
                    self._signal(rec, sig)
                    if rec.state.paused:
                        _ignore(self.c.tasks.Resume, tasks_pb2.TaskRef(id=rec.id), kinds=(errors.DockyardError,))
                except errors.Conflict:
                    return
                if waiter.wait(None if timeout < 0 else timeout) is not None:
                    return
            try:
                self._signal(rec, SIGKILL)
            except errors.Conflict:
                return
            if waiter.wait(30) is None:
                raise errors.Internal("container %s did not exit after SIGKILL" % rec.id[:12])
        finally:
            waiter.cancel()

    def restart(self, ref, timeout=None, signal=None):
        rec = self.get(ref)
        with self.lock(rec.id):
            if rec.state.running:
                self._stop(rec, timeout, signal)
                self.release_networks(rec.id)
                self.emit(rec, "stop")  # dockerd's restart is a containerStop, then a start
            self.set_manually_stopped(rec, False)
            started = self._start_event_of(rec.id)
            try:
                self._start_task(self.get(rec.id))
                next(started, None)
            except errors.DockyardError as exc:
                # dockerd's ContainerRestart names the container as the caller did
                raise type(exc)("Cannot restart container %s: %s" % (ref, exc.message)) from None
            finally:
                started.close()
        self.emit(rec, "restart")

    def _start_event_of(self, cid, wait_s=5):
        """The coming start event of `cid` (it comes from the task event stream): dockerd
        reports "restart" after it."""
        now = time.time_ns()
        return self.daemon.events.subscribe(since_ns=now, until_ns=now + wait_s * 1_000_000_000,
                                            filters={"container": [cid], "event": ["start"]})

    def pause(self, ref):
        rec = self.get(ref)
        if not rec.state.running:
            raise errors.Conflict("Container %s is not running" % rec.id)
        if rec.state.paused:
            raise errors.Conflict("Container %s is already paused" % rec.id)
        self.c.tasks.Pause(tasks_pb2.TaskRef(id=rec.id))
        self.emit(rec, "pause")

    def unpause(self, ref):
        rec = self.get(ref)
        if not rec.state.paused:
            raise errors.Conflict("Container %s is not paused" % rec.id)
        self.c.tasks.Resume(tasks_pb2.TaskRef(id=rec.id))
        self.emit(rec, "unpause")

    # ------------------------------------------------------------------ remove
    def remove(self, ref, force=False, volumes=False):
        rec = self.get(ref)
        if rec.state.running:
            if not force:
                if rec.state.paused:
                    raise errors.Conflict("You cannot remove a paused container %s. Unpause and then stop "
                                          "the container before attempting removal or force remove" % rec.id)
                raise errors.Conflict("You cannot remove a running container %s. Stop the container before "
                                      "attempting removal or force remove" % rec.id)
            self.manually_stopped.add(rec.id)
            self._stop(rec, timeout=0, signal="SIGKILL")
            rec = self.get(rec.id)
        self.remove_resources(rec, remove_volumes=volumes)

    def remove_resources(self, rec, remove_volumes=False):
        """Everything a container holds, then its record; emits "destroy" and wakes waiters."""
        cid = rec.id
        with self.lock(cid):
            try:
                rec = self.c.containers.Get(containers_pb2.GetContainerRequest(ref=cid))
            except errors.NotFound:
                return  # someone else removed it meanwhile
            _ignore(self.c.tasks.Delete, tasks_pb2.TaskRef(id=cid))
            if not rec.state.running:
                self._end_run(rec)  # its exit may not have been cleaned up yet (rm -f, --rm)
            _ignore(self.c.networks.Detach, networks_pb2.DetachRequest(container_id=cid, network=""))
            _ignore(self.c.snapshots.Remove, snapshots_pb2.SnapshotKey(key=rec.snapshot_key or cid))
            for m in views.loads(rec.mounts_json, []) or []:
                if m.get("Type") != "volume" or not m.get("Name"):
                    continue
                _ignore(self.c.volumes.Release, volumes_pb2.ReleaseVolumeRequest(name=m["Name"], container_id=cid))
                if remove_volumes and m.get("Anonymous"):
                    gone = _ignore(self.c.volumes.Remove, volumes_pb2.RemoveVolumeRequest(name=m["Name"]),
                                   kinds=(errors.NotFound, errors.FailedPrecondition, errors.Conflict))
                    if gone is not None:
                        event_attrs.emit_volume(self.daemon.events, "destroy", m["Name"], m.get("Driver"))
            try:
                self.c.containers.Delete(containers_pb2.GetContainerRequest(ref=cid))
            except errors.NotFound:
                return
            self.manually_stopped.discard(cid)
            self.execs.forget_container(cid)
        self.emit(rec, "destroy")
        self.daemon.monitor.removed(cid)

    # ------------------------------------------------------------------ queries
    def inspect(self, ref, size=False):
        rec = self.get(ref)
        return views.inspect(rec, exec_ids=self.execs.ids_of(rec.id),
                             size=self._size(rec) if size else None,
                             merged_dir=os.path.join(self.daemon.layout.task_dir(rec.id), "rootfs"))

    def _size(self, rec):
        try:
            rw = self.c.snapshots.Usage(snapshots_pb2.SnapshotKey(key=rec.snapshot_key or rec.id)).size
        except errors.DockyardError:
            rw = 0
        try:
            base = self.c.images.Get(images_pb2.GetImageRequest(ref=rec.image_id)).size
        except errors.DockyardError:
            base = 0
        return rw, rw + base

    def list(self, all=False, limit=-1, size=False, filters=None):
        from .container_filters import ContainerFilter
        flt = ContainerFilter(filters or {}, self)
        if limit > 0 or flt.needs_all:
            all = True
        recs = list(self.c.containers.List(containers_pb2.ListContainersRequest(all=True)).containers)
        recs.sort(key=lambda r: ids.rfc3339_to_ns(r.created), reverse=True)
        flt.prepare(recs)
        now = time.time_ns()
        out = []
        image_names = None
        for rec in recs:
            if not all and not rec.state.running:
                continue
            if not flt.match(rec):
                continue
            item = views.summary(rec, now, self._size(rec) if size else None)
            if image_names is None:
                image_names = self._image_names()
            item["Image"] = listed_image(item["Image"], rec.image_id, image_names)
            out.append(item)
            if limit > 0 and len(out) >= limit:
                break
        return out

    def _image_names(self):
        """Every tag and digest reference -> its image id (one Images.List per listing)."""
        names = {}
        for img in self.c.images.List(images_pb2.ListImagesRequest(all=True)).images:
            for ref in list(img.repo_tags) + list(img.repo_digests):
                names[ref] = img.id
        return names

    def rename(self, ref, new_name):
        if not new_name:
            raise errors.InvalidArgument("Neither old nor new names may be empty")
        rec = self.get(ref)     # dockerd looks the container up before it checks the new name
        if rec.name == new_name.lstrip("/"):
            raise errors.InvalidArgument("Renaming a container with the same name as its current name")
        new_name = cc.validate_name(new_name)
        try:
            renamed = self.c.containers.Rename(containers_pb2.RenameContainerRequest(ref=rec.id, new_name=new_name))
        except errors.Conflict as exc:
            raise errors.Conflict(self._conflict_message(new_name, str(exc))) from None
        self.nets.renamed(renamed)  # the embedded DNS answers the new name
        self.emit(renamed, "rename", oldName="/" + rec.name)

    def top(self, ref, ps_args="-ef"):
        rec = self.get(ref)
        if not rec.state.running:
            raise errors.Conflict("Container %s is not running" % rec.id)
        pids = set(self.c.tasks.Top(tasks_pb2.TaskRef(id=rec.id)).pids)
        args = (ps_args or "-ef").split()
        try:
            out = subprocess.run(["ps"] + args, capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise errors.Internal("ps: %s" % exc) from None
        if out.returncode != 0:
            # moby top_unix.go: "ps: " and the first line of ps's stderr, else its exit status.
            first = (out.stderr or "").split("\n", 1)[0].strip()
            raise errors.Internal("ps: %s" % (first or "exit status %d" % out.returncode))
        return parse_ps(out.stdout, pids)

    def prune(self, filters=None):
        from .container_filters import ContainerFilter
        flt = ContainerFilter(filters or {}, self, prune=True)
        recs = list(self.c.containers.List(containers_pb2.ListContainersRequest(all=True)).containers)
        flt.prepare(recs)
        deleted, reclaimed = [], 0
        for rec in recs:
            if rec.state.running or not flt.match(rec):
                continue
            try:
                size = self._size(rec)[0]
                self.remove_resources(rec)
            except errors.DockyardError as exc:
                log.warning("prune of %s failed: %s", rec.id[:12], exc)
                continue
            deleted.append(rec.id)
            reclaimed += size
        event_attrs.emit_prune(self.daemon.events, "container", reclaimed)
        return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    def stats_once(self, rec):
        if not rec.state.running:
            return stats_shape.stopped(rec)
        try:
            raw = self.c.tasks.Stats(tasks_pb2.TaskRef(id=rec.id)).stats_json
            data = json.loads(raw) if raw else {}
        except (errors.FailedPrecondition, errors.NotFound, errors.Conflict, ValueError):
            data = {}
        data.setdefault("pids_stats", {})
        data.setdefault("memory_stats", {})
        data.setdefault("cpu_stats", {"cpu_usage": {"total_usage": 0}, "system_cpu_usage": 0,
                                      "online_cpus": os.cpu_count() or 1, "throttling_data": {}})
        data.setdefault("blkio_stats", {})
        data.setdefault("networks", {})
        data["read"] = ids.now_rfc3339()
        data["name"] = "/" + rec.name
        data["id"] = rec.id
        data.setdefault("num_procs", 0)
        data.setdefault("storage_stats", {})
        return stats_shape.running(data)

    # ------------------------------------------------------------------ I/O helpers
    def logs(self, rec, follow, stdout, stderr, since_ns=0, until_ns=0, tail=-1):
        # Resumes a followed stream after a restart of shim-runner, without duplicates.
        return ResumingLogs(self.c.shim, shim_pb2.LogsRequest(
            id=rec.id, follow=follow, stdout=stdout, stderr=stderr, since_ns=since_ns,
            until_ns=until_ns, tail=tail))

    def resize(self, ref, height, width, exec_id=""):
        rec = self.get(ref)
        if not rec.state.running:
            raise errors.Conflict("Container %s is not running" % rec.id)
        self.c.shim.ResizePty(shim_pb2.ResizePtyRequest(id=rec.id, exec_id=exec_id, height=height, width=width))


def for_daemon(daemon):
    """The daemon's one ContainerBackend (made on first use)."""
    backend = getattr(daemon, "_container_backend", None)
    if backend is None:
        with _BACKEND_LOCK:
            backend = getattr(daemon, "_container_backend", None)
            if backend is None:
                backend = daemon._container_backend = ContainerBackend(daemon)
    return backend


_BACKEND_LOCK = threading.Lock()


def connect_network(daemon, container_ref, network, endpoint_config):
    """`docker network connect` (routers/networks.py): `network` is the Network message."""
    for_daemon(daemon).nets.connect(container_ref, network, endpoint_config or {})


def disconnect_network(daemon, container_ref, network, force=False):
    """`docker network disconnect [-f]`."""
    for_daemon(daemon).nets.disconnect(container_ref, network, force)


def parse_ps(output, pids):
    """moby parsePSOutput: keep the rows whose PID column is one of the container's pids."""
    lines = output.splitlines()
    if not lines:
        return {"Titles": [], "Processes": []}
    titles = lines[0].split()
    try:
        pid_index = titles.index("PID")
    except ValueError:
        raise errors.Internal("Couldn't find PID field in ps output") from None
    procs = []
    for line in lines[1:]:
        if not line.strip():
            continue
        fields = line.split()
        try:
            pid = int(fields[pid_index])
        except (ValueError, IndexError):
            continue
        if pid in pids:
            n = len(titles)
            procs.append(fields[:n - 1] + [" ".join(fields[n - 1:])])
    return {"Titles": titles, "Processes": procs}
