"""Image operations over Images (image-service) and Containers (usage checks): the shapes
and rules of moby's daemon/images (inspect, list, delete conflicts, prune, import)."""

import base64
import json
import logging

from dockyard_api.images.v1 import images_pb2
from dockyard_api.containers.v1 import containers_pb2
from dockyard_api.tasks.v1 import tasks_pb2
from dockyard_api.types.v1 import types_pb2
from dockyard_common import errors, ids, platforms

from . import event_attrs
from . import reference
from .changes import apply_changes

log = logging.getLogger(__name__)

CHUNK = 1 << 20

_CONFIG_DEFAULTS = (("Hostname", ""), ("Domainname", ""), ("User", ""), ("AttachStdin", False),
                    ("AttachStdout", False), ("AttachStderr", False), ("Tty", False),
                    ("OpenStdin", False), ("StdinOnce", False), ("Env", None), ("Cmd", None),
                    ("Image", ""), ("Volumes", None), ("WorkingDir", ""), ("Entrypoint", None),
                    ("OnBuild", None), ("Labels", None))


def short_id(image_id):
    return ids.short(image_id)


def image_config(img):
    try:
        return json.loads(img.config_json or b"{}")
    except ValueError:
        return {}


def container_config(cfg):
    """Docker's container Config as image inspect shows it (all the usual keys present)."""
    inner = dict(cfg.get("config") or {})
    out = {k: inner.get(k, d) for k, d in _CONFIG_DEFAULTS}
    for k, v in inner.items():
        if k not in out:
            out[k] = v
    return out


def created_unix(img):
    try:
        return ids.rfc3339_to_ns(img.created) // 1_000_000_000
    except ValueError:
        return 0


def labels_of(img):
    return (image_config(img).get("config") or {}).get("Labels") or {}


def summary(img, version_lt_143=False, version_lt_144=False, containers=-1, tags=None):
    """An ImageSummary (GET /images/json)."""
    repo_tags = list(img.repo_tags) if tags is None else tags
    repo_digests = list(img.repo_digests)
    if version_lt_143 and not repo_tags and not repo_digests:
        repo_tags, repo_digests = ["<none>:<none>"], ["<none>@<none>"]
    out = {"Id": img.id, "ParentId": img.parent, "RepoTags": repo_tags,
           "RepoDigests": repo_digests, "Created": created_unix(img), "Size": img.size,
           "SharedSize": -1, "Labels": labels_of(img) or {}, "Containers": containers}
    if version_lt_144:
        out["VirtualSize"] = img.size
    return out


def inspect(img, api_lt_144=False):
    """Docker's image inspect document."""
    cfg = image_config(img)
    history = cfg.get("history") or []
    comment = cfg.get("comment")
    if comment is None and history:
        comment = history[-1].get("comment", "")
    out = {
        "Id": img.id,
        "RepoTags": list(img.repo_tags),
        "RepoDigests": list(img.repo_digests),
        "Parent": img.parent,
        "Comment": comment or "",
        "Created": img.created or ids.ZERO_TIME,
    }
    # API 1.45 dropped "Container" and "ContainerConfig"; we keep both at every version, since
    # clients written against 1.41 read them (docker-compose 1.29 fails with KeyError
    # 'ContainerConfig' when recreating without it) and newer clients ignore them.
    out["Container"] = cfg.get("container", "")
    out["ContainerConfig"] = container_config({"config": cfg.get("container_config") or {}})
    out.update({
        "DockerVersion": cfg.get("docker_version", ""),
        "Author": cfg.get("author", ""),
        "Config": container_config(cfg),
        "Architecture": cfg.get("architecture", "amd64"),
        "Os": cfg.get("os", "linux"),
        "Size": img.size,
    })
    if cfg.get("variant"):
        out["Variant"] = cfg["variant"]
    if api_lt_144:
        out["VirtualSize"] = img.size
    out.update({
        "GraphDriver": {"Name": "overlay2", "Data": {}},
        "RootFS": {"Type": "layers", "Layers": list(img.diff_ids)},
        "Metadata": {"LastTagTime": ids.ZERO_TIME},
    })
    return out


def _chunks(stream):
    while True:
        data = stream.read(CHUNK)
        if not data:
            return
        yield data


class ImageBackend:
    """Everything the images router needs; `clients` are the daemon's gRPC clients and
    `events` its EventBus."""

    def __init__(self, clients, events):
        self.clients = clients
        self.events = events

    # lookups -----------------------------------------------------------------
    def get(self, ref):
        try:
            return self.clients.images.Get(images_pb2.GetImageRequest(ref=reference.normalize_lookup(ref)))
        except errors.NotFound:
            raise errors.NotFound("No such image: %s" % _display(ref))

    def list(self, all_=True):
        """all_=False hides intermediate images (untagged parents of other images)."""
        return list(self.clients.images.List(images_pb2.ListImagesRequest(all=all_)).images)

    def containers(self):
        """All container records (for usage checks); empty when container-service is down."""
        return list(self.clients.containers.List(containers_pb2.ListContainersRequest(all=True)).containers)

    def _event(self, action, image_id, name, img=None):
        attrs = {"name": name}
        if img is not None:
            attrs.update(labels_of(img))
        self.events.emit("image", action, image_id, attrs)

    # list --------------------------------------------------------------------
    def list_summaries(self, flt, all_=False, api_lt_143=False, api_lt_144=False):
        _check_filter_keys(flt, ("dangling", "label", "label!", "before", "since", "reference", "until"))
        dangling = _dangling_filter(flt, ("true",), ("false",))
        images = self.list(all_)
        parents = {i.parent for i in images if i.parent} if dangling else set()
        before = since = None
        if flt.get("before"):
            before = created_unix(self.get(next(iter(flt["before"]))))
        if flt.get("since"):
            since = created_unix(self.get(next(iter(flt["since"]))))
        out = []
        for img in images:
            # moby's Images(): dangling=true lists untagged heads (digests do not count),
            # dangling=false drops only images with neither tags nor digests
            if dangling and (img.repo_tags or img.id in parents):
                continue
            if dangling is False and not img.repo_tags and not img.repo_digests:
                continue
            if not _labels_pass(flt, img):
                continue
            created = created_unix(img)
            if before is not None and created >= before:
                continue
            if since is not None and created <= since:
                continue
            tags = list(img.repo_tags)
            if flt.get("reference"):
                tags = [t for t in tags if any(reference.familiar_match(p, t) for p in flt["reference"])]
                digests = [d for d in img.repo_digests
                           if any(reference.familiar_match(p, d) for p in flt["reference"])]
                if not tags and not digests:
                    continue
            out.append(summary(img, api_lt_143, api_lt_144, tags=tags))
        out.sort(key=lambda s: s["Created"], reverse=True)
        return out

    # history / tag -----------------------------------------------------------
    def history(self, ref):
        img = self.get(ref)
        resp = self.clients.images.History(images_pb2.GetImageRequest(ref=img.id))
        return [{"Id": e.id or "<missing>", "Created": e.created, "CreatedBy": e.created_by,
                 "Tags": list(e.tags) or None, "Size": e.size, "Comment": e.comment}
                for e in resp.entries]

    def tag(self, ref, repo, tag):
        if not repo:
            raise errors.InvalidArgument("repository name must have at least one component")
        target = reference.parse(repo)
        if target.digest:
            raise errors.InvalidArgument("refusing to create a tag with a digest reference")
        if tag:
            if target.tag:
                raise errors.InvalidArgument("invalid reference format")
            target = reference.parse("%s:%s" % (target.name, tag))
        target = target.with_default_tag()
        img = self.get(ref)
        self.clients.images.Tag(images_pb2.TagImageRequest(ref=img.id, target=str(target)))
        self._event("tag", img.id, str(target), img)
        return str(target)

    # delete ------------------------------------------------------------------
    def delete(self, ref, force=False, noprune=False):
        """moby's ImageService.ImageDelete rules; returns [{"Untagged"|"Deleted": ...}]."""
        img = self.get(ref)
        users = [c for c in self.containers() if c.image_id == img.id]
        running = [c for c in users if c.state.running or c.state.paused or c.state.restarting]
        short = short_id(img.id)
        single = _single_reference(img)
        if not reference.is_id_prefix(img.id, ref):
            if not force and single and users:
                raise errors.Conflict(
                    "conflict: unable to remove repository reference %s (must force) - container %s "
                    "is using its referenced image %s" % (json.dumps(ref), short_id(users[0].id), short))
            if force and running and single:
                # moby only untags here: the image stays (dangling) for its running container
                pass
        else:
            children = [i for i in self.list() if i.parent == img.id]
            if children:
                raise errors.Conflict("conflict: unable to delete %s (cannot be forced) - image has "
                                      "dependent child images" % short)
            if running:
                raise errors.Conflict("conflict: unable to delete %s (cannot be forced) - image is being "
                                      "used by running container %s" % (short, short_id(running[0].id)))
            if not force and not single and len(img.repo_tags) + len(img.repo_digests) > 1:
                raise errors.Conflict("conflict: unable to delete %s (must be forced) - image is "
                                      "referenced in multiple repositories" % short)
            if not force and users:
                raise errors.Conflict("conflict: unable to delete %s (must be forced) - image is being "
                                      "used by stopped container %s" % (short, short_id(users[0].id)))
        lookup = img.id if reference.is_id_prefix(img.id, ref) else reference.normalize_lookup(ref)
        resp = self.clients.images.Delete(images_pb2.DeleteImageRequest(ref=lookup, force=force,
                                                                        no_prune=noprune))
        out = []
        # By name, dockerd reports the one untag it was asked for (the repository's digest
        # references go along silently); by id, every reference it drops.
        by_name = not reference.is_id_prefix(img.id, ref)
        for item in resp.items:
            if item.untagged:
                if not (by_name and any("Untagged" in o for o in out)):
                    self._event("untag", img.id, img.id, img)
                out.append({"Untagged": item.untagged})
            if item.deleted:
                out.append({"Deleted": item.deleted})
                if item.deleted == img.id:   # later items are layers and pruned parents
                    self._event("delete", img.id, img.id)
        return out

    def prune(self, flt):
        _check_filter_keys(flt, ("dangling", "label", "label!", "until"))
        dangling = _dangling_filter(flt, ("true", "1"), ("false", "0"), false_first=True)
        dangling_only = True if dangling is None else dangling
        until = None
        if flt.get("until"):
            from ..events import parse_time_ns
            until = parse_time_ns(next(iter(flt["until"]))) // 1_000_000_000
        used = {c.image_id for c in self.containers()}
        images = self.list()
        parents = {i.parent for i in images if i.parent}
        deleted, reclaimed = [], 0
        for img in images:
            if img.id in used or img.id in parents:
                continue
            if dangling_only and (img.repo_tags or img.repo_digests):
                continue
            if not _labels_pass(flt, img):
                continue
            if until is not None and created_unix(img) >= until:
                continue
            try:
                resp = self.clients.images.Delete(images_pb2.DeleteImageRequest(ref=img.id, force=True))
            except (errors.Conflict, errors.FailedPrecondition, errors.NotFound) as exc:
                log.info("prune skipped %s: %s", img.id, exc)
                continue
            for item in resp.items:
                if item.untagged:
                    deleted.append({"Untagged": item.untagged})
                    self._event("untag", img.id, img.id, img)
                if item.deleted:
                    deleted.append({"Deleted": item.deleted})
                    if item.deleted == img.id:
                        self._event("delete", img.id, img.id)
                # as dockerd: the diff sizes of the layers that went, not the images' sizes
                reclaimed += item.size
        event_attrs.emit_prune(self.events, "image", reclaimed)
        return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    # import / load / save ----------------------------------------------------
    def import_(self, stream, repo, tag, changes, message, platform=""):
        target = self._target(repo, tag, "import") if repo else ""
        config = apply_changes({}, changes)
        # dockerd 20.10 checks the platform but records only its OS: the architecture is its own
        wanted = platforms.parse(platform) if platform else platforms.host()
        if wanted.os != "linux":
            raise errors.InvalidArgument("operating system is not supported")
        os_, arch = wanted.os, platforms.host().architecture
        header = images_pb2.ImportHeader(repo_tag=target, config_json=json.dumps(config).encode(),
                                         message=message or "", os=os_, architecture=arch)

        def requests():
            yield images_pb2.ImportImageRequest(header=header)
            for data in _chunks(stream):
                yield images_pb2.ImportImageRequest(data=data)

        img = self.clients.images.Import(requests())
        if target:  # dockerd tags before it reports the import
            self._event("tag", img.id, target, img)
        self._event("import", img.id, img.id, img)
        return img

    def commit(self, container_ref, repo, tag, comment, author, changes, pause=True, config=None):
        """Make an image of a container's filesystem (moby's CreateImageFromContainer)."""
        try:
            rec = self.clients.containers.Get(containers_pb2.GetContainerRequest(ref=container_ref))
        except errors.NotFound:
            raise errors.NotFound("No such container: %s" % container_ref) from None
        if rec.state.dead or rec.state.status in ("removing", "dead"):
            raise errors.Conflict("You cannot commit container %s which is being removed" % rec.id)
        target = self._target(repo, tag, "commit") if repo else ""
        ccfg = json.loads(rec.config_json or b"{}") or {}
        new = apply_changes(config if config else ccfg, changes)
        merge_config(new, ccfg)
        paused_here = False
        if pause and rec.state.running and not rec.state.paused:
            try:
                self.clients.tasks.Pause(tasks_pb2.TaskRef(id=rec.id))
                paused_here = True
                self._container_event(rec, "pause")
            except errors.DockyardError as exc:
                log.warning("commit: could not pause %s: %s", rec.id, exc)
        try:
            img = self.clients.images.Commit(images_pb2.CommitImageRequest(
                snapshot_key=rec.snapshot_key or rec.id, parent_image=rec.image_id,
                config_json=json.dumps(new).encode(), repo_tag=target, comment=comment or "",
                author=author or "", created_by=" ".join(ccfg.get("Cmd") or []),
                container_config_json=rec.config_json))
            if target:  # dockerd tags while the container is still paused
                self._event("tag", img.id, target, img)
            self._container_event(rec, "commit", comment=comment or "", imageID=img.id,
                                  imageRef=target)
        finally:
            if paused_here:
                try:
                    self.clients.tasks.Resume(tasks_pb2.TaskRef(id=rec.id))
                    self._container_event(rec, "unpause")
                except errors.DockyardError as exc:
                    log.warning("commit: could not resume %s: %s", rec.id, exc)
        return img.id

    def _container_event(self, rec, action, **extra):
        """A container event of a commit (pause, commit, unpause)."""
        self.events.emit("container", action, rec.id, event_attrs.container(rec, **extra))

    @staticmethod
    def _target(repo, tag, what):
        ref = reference.parse(repo)
        if ref.digest:
            raise errors.InvalidArgument("cannot %s to a digest reference" % what)
        if tag:
            ref = reference.parse("%s:%s" % (ref.name, tag))
        return str(ref.with_default_tag())

    def load(self, stream):
        resp = self.clients.images.Load(types_pb2.DataChunk(data=d) for d in _chunks(stream))
        lines = []
        for li in resp.images:
            self._event("load", li.id, li.id)
            if li.repo_tags:
                lines += ["Loaded image: %s\n" % t for t in li.repo_tags]
            else:
                lines.append("Loaded image ID: %s\n" % li.id)
        return lines

    def save(self, refs):
        """An iterator of tar bytes; lookup errors raise before the first byte."""
        names = []
        for r in refs:
            names += self._save_names(r)
        stream = self.clients.images.Save(images_pb2.SaveImagesRequest(
            refs=[reference.normalize_lookup(n) for n in names]))
        it = iter(stream)
        try:
            first = next(it)
        except StopIteration:
            first = None

        def gen():
            try:
                if first is not None and first.data:
                    yield first.data
                for chunk in it:
                    if chunk.data:
                        yield chunk.data
            finally:
                if hasattr(stream, "cancel"):
                    stream.cancel()
        saved = set()
        for r in names:  # dockerd names the image by its id here, whatever was asked for; once
            img = self.get(r)
            if img.id not in saved:
                saved.add(img.id)
                self._event("save", img.id, img.id, img)
        return gen()

    def _save_names(self, ref):
        """moby's tarexport parseNames: a bare repository name saves each of its tags (sorted),
        else what an id prefix finds; a missing tag is "reference does not exist"."""
        if reference.looks_like_id(ref) and not _bare_repo_tags(self.list(), ref):
            img = self.get(ref)
            return [img.id if reference.is_id_prefix(img.id, ref) else ref]
        parsed = reference.parse(ref)
        if parsed.digest:
            return [self.get(ref).id]
        if parsed.tag:
            try:
                self.get(ref)
            except errors.NotFound:
                raise errors.NotFound("reference does not exist") from None
            return [ref]
        tags = _bare_repo_tags(self.list(), ref)
        if not tags:
            raise errors.NotFound("No such image: %s" % ref)
        return tags

    # registry: pull / push / login (docker pull, push, login) ----------------
    def pull(self, ref, platform="", auth_json=""):
        """Images.Pull of `ref` (a reference.Reference) as Docker JSON lines; a bare name pulls
        every tag (docker pull -a). Errors known before the first line Docker would write are
        raised here (plain HTTP errors)."""
        call = self.clients.images.Pull(images_pb2.PullImageRequest(
            ref=str(ref), platform=platform, auth_json=auth_json,
            all_tags=not ref.tag and not ref.digest))
        result = {}

        def on_done(msg):
            result["id"] = msg.id
            return None              # a result record, not a line

        relay = ProgressRelay(call, on_done=on_done,
                              on_success=lambda: self._registry_event("pull", ref, result.get("id")))
        # The image-service says "Pulling from" once the tag's manifest is fetched (as dockerd):
        # errors before it (a missing tag or repository: 404) are HTTP errors, later ones (no
        # manifest for the platform) lines of the stream.
        return relay.prime(lambda msg: True)

    def push(self, ref, auth_json=""):
        """Images.Push of `ref` (a tag, or a bare name = every tag) as Docker JSON lines."""
        if ref.tag:
            self.get(str(ref))       # 404 "No such image" before streaming
        call = self.clients.images.Push(images_pb2.PushImageRequest(ref=str(ref), auth_json=auth_json))
        relay = ProgressRelay(call, on_done=push_result_line,
                              on_success=lambda: self._registry_event("push", ref))
        return relay.prime(lambda msg: True)

    def login(self, auth_config):
        """POST /auth: {"Status", "IdentityToken"}; FailedPrecondition for rejected credentials."""
        try:
            resp = self.clients.images.Login(images_pb2.LoginRequest(auth_json=json.dumps(auth_config)))
        except (errors.Unavailable, errors.Internal) as exc:
            raise errors.Internal(exc.message) from None   # dockerd: 500
        return {"Status": resp.status, "IdentityToken": resp.identity_token}

    def _registry_event(self, action, ref, image_ref=None):
        """moby's ImageEventLogger: id = the reference, name = the repository, image labels."""
        attrs = {}
        try:
            attrs.update(labels_of(self.clients.images.Get(images_pb2.GetImageRequest(
                ref=image_ref or str(ref.with_default_tag())))))
        except errors.DockyardError:
            pass
        attrs["name"] = ref.name
        self.events.emit("image", action, str(ref), attrs)


def merge_config(user, container):
    """Fill what the new image config leaves empty from the container's config (moby's
    daemon/commit.go merge)."""
    if not user.get("User"):
        user["User"] = container.get("User", "")
    ports = dict(container.get("ExposedPorts") or {})
    ports.update(user.get("ExposedPorts") or {})
    user["ExposedPorts"] = ports or None
    env = list(user.get("Env") or [])
    keys = {e.split("=", 1)[0] for e in env}
    env += [e for e in container.get("Env") or [] if e.split("=", 1)[0] not in keys]
    user["Env"] = env or None
    labels = dict(container.get("Labels") or {})
    labels.update(user.get("Labels") or {})
    user["Labels"] = labels
    if not user.get("Entrypoint"):
        if not user.get("Cmd"):
            user["Cmd"] = container.get("Cmd")
        if user.get("Entrypoint") is None:
            user["Entrypoint"] = container.get("Entrypoint")
    if user.get("Healthcheck") is None and container.get("Healthcheck"):
        user["Healthcheck"] = container["Healthcheck"]
    if not user.get("WorkingDir"):
        user["WorkingDir"] = container.get("WorkingDir", "")
    vols = dict(container.get("Volumes") or {})
    vols.update(user.get("Volumes") or {})
    user["Volumes"] = vols or None
    if not user.get("StopSignal") and container.get("StopSignal"):
        user["StopSignal"] = container["StopSignal"]
    return user


def _check_filter_keys(flt, allowed):
    for key in flt:
        if key not in allowed:
            raise errors.InvalidArgument("Invalid filter '%s'" % key)   # dockerd 20.10's words


def _dangling_filter(flt, true_words, false_words, false_first=False):
    """moby's ExactMatch checks of the dangling filter: None when absent; a value matching
    one of the words wins even next to a bad one; only bad values are an error."""
    vals = flt.get("dangling")
    if not vals:
        return None
    order = ((False, false_words), (True, true_words))
    for result, words in (order if false_first else order[::-1]):
        if any(v in words for v in vals):
            return result
    raise errors.InvalidArgument("Invalid filter 'dangling=[%s]'" % " ".join(sorted(vals)))


def _label_matches(labels, want):
    k, eq, v = want.partition("=")
    return k in labels and (not eq or labels[k] == v)


def _labels_pass(flt, img):
    """The label= and label!= filters of docker images and docker image prune."""
    from ..events import match_labels
    labels = labels_of(img)
    return match_labels(flt, labels) and not any(_label_matches(labels, x)
                                                 for x in flt.get("label!") or ())


def _single_reference(img):
    """moby's isSingleReference: one tag (digests in the same repository are fine)."""
    tags, digests = list(img.repo_tags), list(img.repo_digests)
    if len(tags) + len(digests) <= 1:
        return len(tags) + len(digests) == 1
    if len(tags) > 1:
        return False
    names = {d.split("@", 1)[0] for d in digests}
    name = tags[0].rsplit(":", 1)[0] if tags else next(iter(names))
    return names == {name}


def _bare_repo_tags(images, name):
    """The tags of repository `name` (sorted, as moby's ReferencesByName)."""
    try:
        repo = reference.parse(name).name
    except errors.InvalidArgument:
        return []
    return sorted(t for i in images for t in i.repo_tags if t.rsplit(":", 1)[0] == repo)


def _display(ref):
    """How Docker names a missing image: ids as given, names with their default tag."""
    if reference.looks_like_id(ref):
        return ref
    try:
        return str(reference.parse(ref).with_default_tag())
    except errors.InvalidArgument:
        return ref


# ---------------------------------------------------------------------------------------------
# registry progress streams (pull, push) and X-Registry-Auth
# ---------------------------------------------------------------------------------------------

def pull_reference(image, tag):
    """fromImage + tag (which may be a digest) combined as dockerd's PullImage does. A name
    without tag or digest stays bare: dockerd then pulls every tag (the CLI sends tag=latest
    unless it is `docker pull -a`)."""
    if image.endswith(":"):          # "pull -a" may send a trailing ":"
        image = image[:-1]
    ref = reference.parse(image)
    if tag:
        sep = "@" if ":" in tag else ":"     # a tag never holds ":", a digest always does
        ref = reference.parse(ref.name + sep + tag)
    return ref


def push_reference(name, tag):
    ref = reference.parse(name)
    if tag:
        ref = reference.parse("%s:%s" % (ref.name, tag))
    if ref.digest:
        raise errors.InvalidArgument("cannot push a digest reference")
    return ref


def decode_auth_header(value):
    """X-Registry-Auth (base64url JSON) as a JSON string; "" when absent or undecodable
    (dockerd then goes on anonymously)."""
    value = value.strip()
    if not value:
        return ""
    padded = value + "=" * (-len(value) % 4)
    for decode in (base64.urlsafe_b64decode, base64.b64decode):   # some clients use std base64
        try:
            doc = json.loads(decode(padded))
        except ValueError:
            continue
        return json.dumps(doc) if isinstance(doc, dict) else ""
    return ""


def progress_line(msg):
    """A PullProgress/PushProgress as Docker's JSON message, empty fields left out."""
    out = {}
    if msg.status:
        out["status"] = msg.status
    detail = {k: v for k, v in (("current", msg.current), ("total", msg.total)) if v}
    if detail:
        out["progressDetail"] = detail
    if msg.progress:
        out["progress"] = msg.progress
    if msg.id:
        out["id"] = msg.id
    return out


def push_result_line(msg):
    return {"progressDetail": {}, "aux": {"Tag": msg.id, "Digest": msg.digest, "Size": msg.size}}


def error_line(message):
    """streamformatter.FormatError: an error after the 200 went out."""
    return {"errorDetail": {"message": message}, "error": message}


def _before_stream(exc):
    """An error raised before any byte went out: 404/400 stay, the rest is dockerd's 500."""
    if isinstance(exc, (errors.NotFound, errors.InvalidArgument)):
        return exc
    return errors.Internal(exc.message)


class ProgressRelay:
    """A Pull/Push progress stream, iterated as Docker JSON lines (dicts).

    prime(ready) reads ahead until ready(msg) holds (or a result or the end) before anything is
    written: errors up to then raise from prime() and the router answers them as HTTP errors, as
    dockerd does until its output is first flushed. Later errors become an error line.
    on_done(msg) turns each done=true result into a line (or None); on_success() runs once the
    stream ended without error. A client that goes away cancels the call."""

    def __init__(self, call, on_done=None, on_success=None):
        self.call = call
        self.it = iter(call)
        self.on_done = on_done
        self.on_success = on_success
        self.head = []
        self.ended = False

    def prime(self, ready):
        try:
            for msg in self.it:
                if msg.error:
                    raise errors.Internal(msg.error)
                self.head.append(msg)
                if msg.done or ready(msg):
                    return self
            self.ended = True
        except errors.DockyardError as exc:
            self.cancel()
            raise _before_stream(exc) from None
        return self

    def cancel(self):
        cancel = getattr(self.call, "cancel", None)
        if cancel is not None:
            cancel()

    def _lines(self, msg):
        if msg.error:
            raise errors.Internal(msg.error)
        if msg.done:
            line = self.on_done(msg) if self.on_done else None
            if line:
                yield line
            return
        yield progress_line(msg)

    def __iter__(self):
        try:
            head, self.head = self.head, []
            for msg in head:
                yield from self._lines(msg)
            if not self.ended:
                for msg in self.it:
                    yield from self._lines(msg)
        except errors.DockyardError as exc:
            yield error_line(exc.message)
            return
        finally:
            self.cancel()
        if self.on_success:
            self.on_success()
