"""The classic Dockerfile builder (moby builder/dockerfile, Docker 20.10): stages, steps, the
build cache and the JSON messages of `POST /build`. Containers and images go through the
Engine (engine.py); nothing here talks gRPC."""

import copy
import io
import json
import logging
import os
import posixpath
import shutil
import socket
import tarfile
import threading
from dataclasses import dataclass, field

from dockyard_common import errors, ids, platforms

from ..backend import changes, container_config
from . import parser, sources, tarstream
from .cache import CacheIndex
from .lex import Lex, env_dict

log = logging.getLogger(__name__)

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ["/bin/sh", "-c"]
# Build args usable without an ARG instruction (and kept out of the cache key), as Docker.
BUILTIN_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
                "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")


class BuildError(Exception):
    """A failed step: `message` goes to errorDetail, `code` is the CLI's exit code."""

    def __init__(self, message, code=0):
        super().__init__(message)
        self.message, self.code = message, code


class Cancelled(Exception):
    pass


@dataclass
class Options:
    tags: list = field(default_factory=list)
    buildargs: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    target: str = ""
    nocache: bool = False
    rm: bool = True
    forcerm: bool = False
    pull: bool = False
    quiet: bool = False
    network_mode: str = ""
    extra_hosts: list = field(default_factory=list)
    aux: bool = True
    registry_config: dict = field(default_factory=dict)   # X-Registry-Config: host -> auth
    platform: object = None       # --platform (a dockyard_common.platforms.Platform) or None

    def auth_for(self, name):
        """The X-Registry-Config entry for the registry of `name`, as JSON ("" if none)."""
        first = name.split("/", 1)[0]
        host = first if "/" in name and ("." in first or ":" in first or first == "localhost") \
            else "https://index.docker.io/v1/"
        for key, auth in (self.registry_config or {}).items():
            k = key.split("://", 1)[-1].rstrip("/")
            if k == host or key == host or (host.startswith("https://index.docker.io") and "docker.io" in key):
                return json.dumps(auth)
        return ""


@dataclass
class State:
    """One stage's state (moby dispatchState)."""
    image: object = None          # images_pb2.Image of the current step, None for scratch
    config: dict = field(default_factory=dict)
    args: dict = field(default_factory=dict)     # declared ARGs -> value (None: no value)
    cmd_set: bool = False
    maintainer: str = ""

    @property
    def image_id(self):
        return self.image.id if self.image is not None else ""


def go_quote_list(items):
    """Go's %q of a []string: ["a" "b"]."""
    return "[" + " ".join(json.dumps(x) for x in items) + "]"


class Builder:
    def __init__(self, engine, ctx, options, emit, cancelled=lambda: False):
        self.engine = engine
        self.ctx = ctx
        self.opts = options
        self._emit = emit
        self.cancelled = cancelled
        self.containers = []       # intermediate containers not removed yet
        self.used_args = set()
        self.cache = None
        self.stage_results = []    # per stage: (name, image)
        self.quiet_output = []
        self.lex = Lex()

    # ---------------------------------------------------------------- output
    def say(self, text):
        if not self.opts.quiet:
            self._emit({"stream": text})
        else:
            # dockerd keeps a quiet build's output and sends it only when the build fails
            self.quiet_output.append({"stream": text})

    def _check(self):
        if self.cancelled():
            raise Cancelled()

    # ---------------------------------------------------------------- the build
    def plan(self):
        """Parse and select stages; errors here are answered as HTTP errors (nothing sent yet)."""
        name = self.ctx.dockerfile_name or "Dockerfile"
        if not self.ctx.dockerfile_text:
            raise errors.InvalidArgument("the Dockerfile (%s) cannot be empty" % name)
        try:
            df = parser.parse(self.ctx.dockerfile_text)
        except parser.NoInstructions as exc:
            raise errors.InvalidArgument("failed to parse %s: %s" % (name, exc.message)) from None
        self.lex = Lex(df.escape)
        stages = df.stages
        if self.opts.target:
            names = [s.name for s in stages]
            if self.opts.target.lower() not in names:
                raise errors.InvalidArgument("failed to reach build target %s in Dockerfile" % self.opts.target)
            stages = stages[:names.index(self.opts.target.lower()) + 1]
        for k in sorted(self.opts.labels):
            v = self.opts.labels[k]
            stages[-1].commands.append(parser.Instruction(
                name="LABEL", original="LABEL %s=%s" % (k, v), line=0,   # as dockerd prints it
                args=[(k, v)], flags={"noexpand": True}))
        seen = set()
        for s in stages:
            if s.name:
                if s.name in seen:
                    raise errors.InvalidArgument("duplicate name %s" % s.name)
                seen.add(s.name)
        self.df, self.stages = df, stages
        return self

    def run(self):
        """Build; returns the final image id. Raises BuildError/Cancelled/DockyardError."""
        if self.opts.nocache:
            self.cache = CacheIndex()
        else:
            self.cache = CacheIndex(self.engine.list_images())
        total = len(self.df.meta_args) + sum(1 + len(s.commands) for s in self.stages)
        n = 0
        meta = {}
        for inst in self.df.meta_args:
            n += 1
            self.say("Step %d/%d : %s\n" % (n, total, inst))
            for name, default in inst.args:
                self.used_args.add(name)
                if name in self.opts.buildargs:
                    meta[name] = self.opts.buildargs[name]
                elif default is not None:
                    meta[name] = self.lex.process_word(default, self._meta_env(meta))
                else:
                    meta[name] = None
        self.meta = meta
        state = None
        for stage in self.stages:
            self._check()
            n += 1
            self.say("Step %d/%d : %s\n" % (n, total, stage.source))
            state = self._from(stage)
            self.say(" ---> %s\n" % ids.short(state.image_id) if state.image_id else " ---> \n")
            for inst in stage.commands:
                self._check()
                n += 1
                self.say("Step %d/%d : %s\n" % (n, total, inst))
                self.dispatch(state, inst)
                self.say(" ---> %s\n" % ids.short(state.image_id))
            if state.image_id and self.opts.aux:
                self._emit({"aux": {"ID": state.image_id}})
            self.stage_results.append((stage.name, state.image))
        unused = sorted(k for k in self.opts.buildargs if k not in self.used_args and k not in BUILTIN_ARGS)
        if unused:
            self.say("[Warning] One or more build-args [%s] were not consumed\n" % " ".join(unused))
        if not state.image_id:
            raise BuildError("No image was generated. Is your Dockerfile empty?")
        return state.image_id

    def _meta_env(self, meta):
        return {k: v for k, v in meta.items() if v is not None}

    # ---------------------------------------------------------------- FROM
    def _from(self, stage):
        base = self.lex.process_word(stage.base, self._meta_env(self.meta))
        state = State()
        if base.lower() == "scratch":
            state.config = {}
        else:
            image = self._stage_image(base.lower()) if "/" not in base else None
            if image is None:
                image = self._base_image(base, self._stage_platform(stage))
            state.image = image
            state.config = copy.deepcopy((_image_config(image).get("config")) or {})
        env = state.config.get("Env") or []
        if not any(e.split("=", 1)[0] == "PATH" for e in env):
            state.config["Env"] = list(env) + ["PATH=" + DEFAULT_PATH]
        triggers = state.config.get("OnBuild") or []
        state.config["OnBuild"] = None
        if triggers:
            self.say("# Executing %d build trigger%s\n" % (len(triggers), "" if len(triggers) == 1 else "s"))
            for text in triggers:
                self._check()
                self.dispatch(state, parser.parse_trigger(text, self.df.escape))
        return state

    def _stage_image(self, name):
        for i, (sname, image) in enumerate(self.stage_results):
            if sname == name or str(i) == name:
                return image
        return None

    def _stage_platform(self, stage):
        """FROM --platform= (expanded with the meta ARGs), else the build's --platform."""
        flag = (stage.source.flags or {}).get("platform") if stage.source is not None else None
        if not flag:
            return self.opts.platform
        value = self.lex.process_word(flag, self._meta_env(self.meta))
        try:
            return platforms.parse(value)
        except errors.InvalidArgument as exc:
            raise BuildError("failed to parse platform %s: %s" % (value, exc.message)) from None

    def _base_image(self, ref, platform=None):
        # A local image is used whatever its platform: dockerd 20.10's GetImage returns the
        # image along with its "does not match the specified platform" error, and the classic
        # builder goes on with it.
        image = None if self.opts.pull else self.engine.image(ref)
        if image is not None:
            return image
        try:
            name = str(container_config_ref(ref))
        except errors.InvalidArgument as exc:
            raise BuildError(exc.message) from None
        reason = "dockyard cannot pull images from a registry yet"
        if self.engine.can_pull():
            try:
                self.engine.pull(name, self._pull_progress, auth_json=self.opts.auth_for(name),
                                 platform=platforms.format_platform(platform) if platform else "")
                reason = ""
            except errors.NotImplementedYet:
                pass
            except errors.DockyardError as exc:
                raise BuildError(exc.message) from None
        image = self.engine.image(ref)
        if image is not None:
            self._warn_pulled_platform(ref, image, platform)
            return image
        if not reason:
            raise BuildError("No such image: %s" % name)
        raise BuildError("pull access denied for %s, repository does not exist or may require "
                         "'docker login': %s" % (name.rsplit(":", 1)[0] if "@" not in name else name, reason))

    def _warn_pulled_platform(self, ref, image, platform):
        """moby's pullForBuilder: the pulled image's config names another platform than asked
        for (a single-platform image, or a wrong index): a warning, and the build goes on."""
        if platform is None:
            return
        actual = platforms.of_config(_image_config(image))
        if platforms.Only(platform).match(actual):
            return
        self._pull_progress({"status": (
            "\nWARNING: Pulled image with specified platform (%s), but the resulting image's "
            "configured platform (%s) does not match.\nThis is most likely caused by a bug in the "
            "build system that created the fetched image (%s).\nPlease notify the image author to "
            "correct the configuration." % (platforms.format_platform(platform),
                                            platforms.format_platform(actual), ref))})

    def _pull_progress(self, msg):
        if not self.opts.quiet:
            self._emit(msg)

    # ---------------------------------------------------------------- dispatch
    def _env(self, state):
        """The environment for expanding words: the config's Env plus the stage's ARGs."""
        env = env_dict(state.config.get("Env") or [])
        for k, v in self._allowed_args(state):
            env.setdefault(k, v)
        return env

    def _allowed_args(self, state):
        """moby BuildArgs.FilterAllowed: declared ARGs with a value, not shadowed by ENV."""
        env_keys = {e.split("=", 1)[0] for e in state.config.get("Env") or []}
        out = []
        for k in sorted(state.args):
            v = state.args[k]
            if v is not None and k not in env_keys:
                out.append((k, v))
        for k in BUILTIN_ARGS:
            if k in self.opts.buildargs and k not in state.args and k not in env_keys:
                out.append((k, self.opts.buildargs[k]))
        return out

    def _word(self, state, word, inst=None):
        if inst is not None and inst.flags.get("noexpand"):
            return word
        try:
            return self.lex.process_word(word, self._env(state))
        except errors.InvalidArgument as exc:
            raise BuildError("failed to process %s: %s" % (json.dumps(word), exc.message)) from None

    def _shell(self, state):
        return list(state.config.get("Shell") or DEFAULT_SHELL)

    def dispatch(self, state, inst):
        handler = getattr(self, "_do_" + inst.name.lower())
        handler(state, inst)

    def _nop(self, state, comment):
        """A config-only step (ENV, CMD, LABEL, ...): "#(nop) " history line, empty layer."""
        step_cmd = self._shell(state) + ["#(nop) ", comment]
        if self._cached(state, " ".join(step_cmd)):
            return
        self._config_step(state, step_cmd)

    def _commit(self, state, config, step_cmd, snapshot_key=""):
        """The step's image. Its ContainerConfig is the step's config with Cmd naming the step, as
        moby's builder records it (docker-compose reads an image's VOLUMEs there)."""
        return self.engine.commit(state.image_id, config, " ".join(step_cmd), snapshot_key=snapshot_key,
                                  author=state.maintainer,
                                  container_config=dict(copy.deepcopy(config), Cmd=step_cmd))

    def _config_step(self, state, step_cmd, make_dir=""):
        """moby's probeAndCreate + commitContainer: a container is created (never started) with
        the step's config and Cmd naming the step, the image is committed from it (its id in the
        image's `container`), and it goes as a RUN step's does. make_dir: WORKDIR's directory,
        made in the container's layer when missing (the only case with a layer)."""
        config = self._image_config(state)
        if state.image is None:
            # FROM scratch: our containers need an image (dockerd creates one anyway)
            self._advance(state, self._bare_config_step(state, config, step_cmd, make_dir))
            return
        container_config = dict(copy.deepcopy(config), Cmd=step_cmd)
        body = dict(copy.deepcopy(container_config), HostConfig=self._host_config())
        cid = self._create_container(body)
        # dockerd fills the create's config in place, and that config is the ContainerConfig
        container_config["Hostname"] = (socket.gethostname() if self.opts.network_mode == "host"
                                        else ids.short(cid))
        layer = bool(make_dir) and self._make_dir(cid, make_dir)
        image = self.engine.commit(state.image_id, config, " ".join(step_cmd), snapshot_key=cid,
                                   empty_layer=not layer, author=state.maintainer,
                                   container_config=container_config)
        self._step_done(cid)
        self._advance(state, image)

    def _bare_config_step(self, state, config, step_cmd, make_dir):
        if not make_dir:
            return self._commit(state, config, step_cmd)
        key = self.engine.prepare(state.image)
        try:
            return self._commit(state, config, step_cmd,
                                snapshot_key=key if self._make_dir(key, make_dir) else "")
        finally:
            self.engine.release(key)

    def _make_dir(self, key, path):
        """WORKDIR's directory (root-owned, as dockerd's ContainerCreateWorkdir) in the snapshot
        `key` unless it exists; True when it was made."""
        if self.engine.stat(key, path) is not None:
            return False
        name = path.lstrip("/")
        self.engine.put(key, "/", tarstream.stream(lambda tf: tf.addfile(sources._dir_entry(name, (0, 0)))))
        return True

    def _image_config(self, state):
        config = copy.deepcopy(state.config)
        config["Image"] = state.image_id
        return config

    def _advance(self, state, image):
        state.image = image
        self.cache.add(image)

    def _cached(self, state, created_by):
        if self.opts.nocache:
            return False
        image_id = self.cache.lookup(state.image_id, created_by)
        if not image_id:
            return False
        image = self.engine.image(image_id)
        if image is None:
            self.cache.forget(state.image_id, created_by)
            return False
        self.say(" ---> Using cache\n")
        state.image = image
        # the cached image's config is what this step would have produced
        state.config = copy.deepcopy(_image_config(image).get("config") or state.config)
        return True

    # -- config-only instructions
    def _do_env(self, state, inst):
        env = self._env(state)
        pairs = [(self.lex.process_word(k, env), self.lex.process_word(v, env)) for k, v in inst.args]
        current = list(state.config.get("Env") or [])
        for k, v in pairs:
            item = "%s=%s" % (k, v)
            for i, e in enumerate(current):
                if e.split("=", 1)[0] == k:
                    current[i] = item
                    break
            else:
                current.append(item)
        state.config["Env"] = current
        self._nop(state, "ENV " + " ".join("%s=%s" % kv for kv in pairs))

    def _do_label(self, state, inst):
        if inst.flags.get("noexpand"):
            pairs = list(inst.args)
        else:
            env = self._env(state)
            pairs = [(self.lex.process_word(k, env), self.lex.process_word(v, env)) for k, v in inst.args]
        labels = dict(state.config.get("Labels") or {})
        labels.update(pairs)
        state.config["Labels"] = labels
        self._nop(state, "LABEL " + " ".join("%s=%s" % kv for kv in pairs))

    def _do_arg(self, state, inst):
        declared = []
        for name, default in inst.args:
            self.used_args.add(name)
            if default is not None:
                default = self._word(state, default)
            if name in self.opts.buildargs:
                value = self.opts.buildargs[name]
            elif default is not None:
                value = default
            else:
                value = self.meta.get(name)
            state.args[name] = value
            declared.append(name + ("=%s" % default if default is not None else ""))
        self._nop(state, "ARG " + " ".join(declared))

    def _do_expose(self, state, inst):
        words = [self._word(state, w) for w in inst.args]
        ports = dict(state.config.get("ExposedPorts") or {})
        for w in words:
            try:
                for p in changes.expand_port(w):
                    ports[p] = {}
            except errors.InvalidArgument as exc:
                raise BuildError(exc.message) from None
        state.config["ExposedPorts"] = ports
        self._nop(state, "EXPOSE " + " ".join(words))

    def _do_volume(self, state, inst):
        vols = dict(state.config.get("Volumes") or {})
        words = [self._word(state, w) for w in inst.args]
        for v in words:
            if not v.strip():
                raise BuildError("VOLUME specified can not be an empty string")
            vols[v] = {}
        state.config["Volumes"] = vols
        self._nop(state, "VOLUME [%s]" % " ".join(words))

    def _do_user(self, state, inst):
        user = self._word(state, inst.args)
        state.config["User"] = user
        self._nop(state, "USER " + user)

    def _do_stopsignal(self, state, inst):
        sig = self._word(state, inst.args)
        try:
            container_config.parse_signal(sig)
        except (errors.InvalidArgument, ValueError):
            raise BuildError("Invalid signal: %s" % sig) from None
        state.config["StopSignal"] = sig
        self._nop(state, "STOPSIGNAL " + sig)

    def _command(self, state, inst):
        if inst.json_form:
            return list(inst.args)
        return self._shell(state) + [inst.args]

    def _do_cmd(self, state, inst):
        cmd = self._command(state, inst)
        state.config["Cmd"] = cmd
        state.cmd_set = True
        self._nop(state, "CMD " + go_quote_list(cmd))

    def _do_entrypoint(self, state, inst):
        ep = self._command(state, inst) if (inst.json_form or inst.args) else None
        state.config["Entrypoint"] = ep
        if not state.cmd_set:
            state.config["Cmd"] = None
        self._nop(state, "ENTRYPOINT " + go_quote_list(ep or []))

    def _do_shell(self, state, inst):
        state.config["Shell"] = list(inst.args)
        self._nop(state, "SHELL [%s]" % " ".join(inst.args))   # dockerd's %v of the list

    def _do_healthcheck(self, state, inst):
        try:
            # The parser took the --interval/--retries... flags off the arguments: give them back.
            flags = ["--%s=%s" % kv for kv in (inst.flags or {}).items()]
            hc = changes.healthcheck(" ".join(flags + [inst.args]))
        except errors.InvalidArgument as exc:
            raise BuildError(exc.message) from None
        state.config["Healthcheck"] = hc
        # dockerd 20.10's %q of its HealthConfig{Test, Interval, Timeout, StartPeriod, Retries}
        self._nop(state, "HEALTHCHECK &{%s %s %s %s %s}" % (
            go_quote_list(hc.get("Test") or []), *(
                json.dumps(_go_duration(hc.get(k)), ensure_ascii=False)
                for k in ("Interval", "Timeout", "StartPeriod")),
            _go_quote_rune(hc.get("Retries") or 0)))

    def _do_onbuild(self, state, inst):
        trigger = inst.args.strip()
        word, _, rest = trigger.partition(" ")
        trigger = (word.upper() + " " + rest.strip()).strip()
        state.config["OnBuild"] = list(state.config.get("OnBuild") or []) + [trigger]
        self._nop(state, "ONBUILD " + trigger)

    def _do_maintainer(self, state, inst):
        state.maintainer = self._word(state, inst.args)
        self._nop(state, "MAINTAINER " + state.maintainer)

    # -- WORKDIR: a step container; a layer when the directory is missing
    def _do_workdir(self, state, inst):
        path = self._word(state, inst.args)
        path = posixpath.normpath(posixpath.join(state.config.get("WorkingDir") or "/", path))
        state.config["WorkingDir"] = path
        step_cmd = self._shell(state) + ["#(nop) WORKDIR " + path]
        if self._cached(state, " ".join(step_cmd)):
            return
        self._config_step(state, step_cmd, make_dir=path)

    # -- RUN: a container
    def _do_run(self, state, inst):
        cmd = self._command(state, inst)
        build_args = ["%s=%s" % kv for kv in self._allowed_args(state)]
        cache_args = sorted(a for a in build_args if a.split("=", 1)[0] not in BUILTIN_ARGS
                            or a.split("=", 1)[0] in state.args)
        step_cmd = (["|%d" % len(cache_args)] + cache_args if build_args else []) + cmd
        created_by = " ".join(step_cmd)
        if self._cached(state, created_by):
            return
        if state.image is None:
            raise BuildError("The command '%s' cannot run: the image is empty (FROM scratch)" % " ".join(cmd))
        config = self._image_config(state)
        body = dict(config)
        body.update({"Cmd": cmd, "Entrypoint": [], "Image": state.image_id,
                     "Env": list(config.get("Env") or []) + build_args,
                     "AttachStdout": True, "AttachStderr": True, "Tty": False, "OpenStdin": False,
                     "HostConfig": self._host_config()})
        body.pop("OnBuild", None)
        body.pop("Healthcheck", None)
        cid = self._create_container(body)
        try:
            self.engine.start(cid)
        except errors.DockyardError as exc:
            raise BuildError(exc.message, 1) from None
        done = threading.Event()
        threading.Thread(target=self._kill_on_cancel, args=(cid, done), daemon=True).start()
        try:
            for data in self.engine.output(cid):
                self.say(data.decode("utf-8", errors="replace"))
            code = self.engine.wait(cid)
        finally:
            done.set()
        if self.cancelled():
            # as moby's containerManager.Run: a cancelled build kills and removes the container
            self.remove_container(cid)
            raise Cancelled()
        if code != 0:
            raise BuildError("The command '%s' returned a non-zero code: %d" % (" ".join(cmd), code), code)
        image = self._commit(state, config, step_cmd, snapshot_key=cid)
        self._step_done(cid)
        self._advance(state, image)

    def _host_config(self):
        """moby's hostConfigFromOptions: every step container's HostConfig."""
        return {"NetworkMode": self.opts.network_mode or "default",
                "ExtraHosts": list(self.opts.extra_hosts) or None}

    def _create_container(self, body):
        """moby's Builder.create: a step's container, its warnings and the "Running in" line."""
        try:
            cid, warnings = self.engine.create(body)
        except errors.DockyardError as exc:
            raise BuildError(exc.message) from None
        self.containers.append(cid)
        for warning in warnings:
            self.say(" ---> [Warning] %s\n" % warning)
        self.say(" ---> Running in %s\n" % ids.short(cid))
        return cid

    def _step_done(self, cid):
        if self.opts.rm or self.opts.forcerm:   # dockerd: --force-rm removes even with --rm=false
            self.remove_container(cid)

    def _kill_on_cancel(self, cid, done):
        while not done.wait(0.5):
            if self.cancelled():
                self.engine.kill(cid)
                return

    def remove_container(self, cid):
        self.say("Removing intermediate container %s\n" % ids.short(cid))
        try:
            self.engine.remove(cid)
        except errors.DockyardError as exc:
            log.warning("build: removing %s failed: %s", cid[:12], exc)
        if cid in self.containers:
            self.containers.remove(cid)

    def cleanup(self, failed):
        """After the build: a failed step's container goes only with forcerm (Docker's rule)."""
        if (failed and not self.opts.forcerm) or (not failed and not self.opts.rm):
            return
        for cid in list(self.containers):
            self.remove_container(cid)

    # -- COPY / ADD: a tar into a fresh snapshot
    def _do_copy(self, state, inst, add=False):
        cmd = inst.name
        words = [self._word(state, w) for w in inst.args]
        srcs, dest = words[:-1], words[-1]
        chown = self._word(state, inst.flags["chown"]) if inst.flags.get("chown") else ""
        if not dest.startswith("/"):
            slash = dest.endswith("/") or dest in (".", "")
            dest = posixpath.join("/", state.config.get("WorkingDir") or "/", dest)
            dest = posixpath.normpath(dest) + ("/" if slash else "")
            dest = dest.replace("//", "/")
        spool_dir = None
        try:
            if inst.flags.get("from"):
                srcs_resolved, spool_dir = self._sources_from(state, inst.flags["from"], srcs, cmd)
            else:
                srcs_resolved = sources.resolve_context(self.ctx, srcs, cmd, add=add)
            src_hash = sources.source_hash(srcs_resolved)
            comment = "%s %s%s in %s " % (cmd, "--chown=%s" % chown if chown else "", src_hash, words[-1])
            step_cmd = self._shell(state) + ["#(nop) " + comment]
            created_by = " ".join(step_cmd)
            if self._cached(state, created_by):
                return
            key = self.engine.prepare(state.image)
            try:
                owner = self._owner(key, chown) if chown else None
                target = dest.rstrip("/") or "/"
                st = self.engine.stat(key, target)
                is_dir = st is not None and bool(st.mode & (1 << 31))
                fill = sources.placement(srcs_resolved, dest, is_dir, st is not None, owner, cmd)
                try:
                    self.engine.put(key, "/", tarstream.stream(fill))
                except sources.CopyError as exc:
                    raise BuildError(exc.message) from None
                except errors.DockyardError as exc:
                    raise BuildError("%s failed: %s" % (cmd, exc.message)) from None
                image = self._commit(state, self._image_config(state), step_cmd, snapshot_key=key)
            finally:
                self.engine.release(key)
            self._advance(state, image)
        except sources.CopyError as exc:
            raise BuildError(exc.message) from None
        finally:
            if spool_dir:
                shutil.rmtree(spool_dir, ignore_errors=True)

    def _do_add(self, state, inst):
        if inst.flags.get("from"):
            raise BuildError("ADD does not support the --from flag")
        self._do_copy(state, inst, add=True)

    def _sources_from(self, state, name, srcs, cmd):
        name = self._word(state, name)
        image = self._stage_image(name.lower())
        if image is None:
            if any(n == name.lower() for n, _ in self.stage_results) or name.isdigit():
                raise BuildError("%s failed: stage %s has no image" % (cmd, name))
            image = self._base_image(name)
        spool_dir = self.ctx.scratch("from-%s" % ids.new_id()[:12])
        os.makedirs(spool_dir)
        key = self.engine.prepare(image)
        out = []
        try:
            for i, src in enumerate(srcs):
                path = posixpath.normpath(posixpath.join("/", src))
                if sources.is_glob(path):
                    raise BuildError("%s failed: wildcards in --from sources are not supported by dockyard yet: %s"
                                     % (cmd, src))
                if self.engine.stat(key, path) is None:
                    raise BuildError("%s failed: stat %s: file does not exist" % (cmd, path))
                spool = os.path.join(spool_dir, "%d.tar" % i)
                with open(spool, "wb") as f:
                    self.engine.get_archive(key, path, f)
                out.append(sources.Source(path=spool, rel=path, is_dir=sources.spooled_is_dir(spool),
                                          spooled=True))
        except BaseException:
            shutil.rmtree(spool_dir, ignore_errors=True)
            raise
        finally:
            self.engine.release(key)
        return out, spool_dir

    def _owner(self, key, chown):
        """--chown=user[:group] -> (uid, gid), names looked up in the image's passwd/group."""
        user, _, group = chown.partition(":")
        uid = self._lookup_id(key, "/etc/passwd", user, "user")
        if group:
            gid = self._lookup_id(key, "/etc/group", group, "group")
        elif user.isdigit():
            gid = uid
        else:
            gid = int(self._passwd_field(key, user, 3))
        return uid, gid

    def _lookup_id(self, key, path, name, what):
        if name.isdigit():
            return int(name)
        return int(self._passwd_field(key, name, 2, path=path, what=what))

    def _passwd_field(self, key, name, index, path="/etc/passwd", what="user"):
        text = self._read_file(key, path)
        for line in text.splitlines():
            parts = line.split(":")
            if len(parts) > index and parts[0] == name:
                return parts[index]
        raise BuildError("unable to convert uid/gid chown string to host mapping: can't find %s %s"
                         % ("uid for user" if what == "user" else "gid for group", name))

    def _read_file(self, key, path):
        buf = io.BytesIO()
        try:
            self.engine.get_archive(key, path, buf)
        except errors.NotFound:
            return ""
        buf.seek(0)
        try:
            with tarfile.open(fileobj=buf, mode="r:") as tf:
                for m in tf:
                    if m.isreg():
                        return tf.extractfile(m).read(1 << 20).decode("utf-8", errors="replace")
        except tarfile.TarError:
            return ""
        return ""


def _image_config(image):
    try:
        return json.loads(image.config_json or b"{}") or {}
    except ValueError:
        return {}


def _go_duration(ns):
    """Go's time.Duration.String: "0s", "500ms", "1.5s", "2h0m0s"."""
    ns = int(ns or 0)
    if not ns:
        return "0s"
    sign, ns = ("-" if ns < 0 else ""), abs(ns)
    if ns < 10 ** 9:
        unit, div = ("ms", 10 ** 6) if ns >= 10 ** 6 else ("µs", 10 ** 3) if ns >= 10 ** 3 else ("ns", 1)
        return sign + _go_fraction(ns, div) + unit
    hours, rest = divmod(ns, 3600 * 10 ** 9)
    minutes, rest = divmod(rest, 60 * 10 ** 9)
    out = ("%dh" % hours if hours else "") + ("%dm" % minutes if hours or minutes else "")
    return sign + out + _go_fraction(rest, 10 ** 9) + "s"


def _go_fraction(value, div):
    whole, frac = divmod(value, div)
    digits = ("%0*d" % (len(str(div)) - 1, frac)).rstrip("0") if div > 1 else ""
    return "%d.%s" % (whole, digits) if digits else str(whole)


_GO_RUNE_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r",
                    39: "\\'", 92: "\\\\"}


def _go_quote_rune(n):
    """Go's %q of an integer (strconv.QuoteRune): 9 -> '\\t', 3 -> '\\x03', 65 -> 'A'."""
    if n in _GO_RUNE_ESCAPES:
        return "'%s'" % _GO_RUNE_ESCAPES[n]
    if n < 0 or n > 0x10FFFF:
        return "'\\ufffd'"
    ch = chr(n)
    if ch.isprintable():
        return "'%s'" % ch
    return "'\\x%02x'" % n if n < 0x80 else "'\\u%04x'" % n if n < 0x10000 else "'\\U%08x'" % n


def container_config_ref(ref):
    from ..backend import reference
    return reference.parse(ref).with_default_tag()
