"""Container networking (dockerd's daemon/container_operations.go) over the network-service.

Lifetimes, as Docker: the *sandbox* (netns and its hosts/resolv.conf/hostname files, whose
paths go into the OCI spec) is made at create and destroyed at remove; *endpoints* (addresses,
published ports) are joined at start and left when the container stops, so a stopped container
holds no IP and no host port. Modes `host` and `none` keep their one endpoint from create to
remove; `container:<id>` has no sandbox of its own (it joins the other container's netns).

The record's network_json holds, besides the sandbox paths, one entry per network with its
configuration (aliases, requested address) and, while attached, the endpoint it got.
"""

import json
import logging

from flask import has_request_context, request

from dockyard_api.containers.v1 import containers_pb2
from dockyard_api.networks.v1 import networks_pb2
from dockyard_common import errors, ids

from .. import versioning
from ..httperrors import Forbidden
from . import container_links as links
from . import container_mac as macs
from . import container_ports as ports
from . import container_views as views
from . import event_attrs

log = logging.getLogger(__name__)

PREDEFINED = ("bridge", "host", "none")
RUNTIME_KEYS = ("endpoint_id", "ip_address", "prefix_len", "gateway", "mac_address", "dns_names",
                "ipv6_address", "ipv6_prefix_len", "ipv6_gateway")
SHARED_NETNS_ERROR = ("container sharing network namespace with another container or host "
                      "cannot be connected to any other network")
HOST_ERROR = "container cannot be disconnected from host network or connected to host network"
NONE_ERROR = ("container cannot be connected to multiple networks with one of the networks in "
              "private (none) mode")
ALIAS_ERROR = "network-scoped alias is supported only for containers in user defined networks"
IP_ERROR = "user specified IP address is supported on user defined networks only"


def primary_of(mode):
    return "bridge" if mode in ("", "default") else mode


def is_user_network(name):
    return name not in PREDEFINED


def keeps_endpoints(mode):
    """Modes whose endpoint lives from create to remove (nothing to publish, nothing to free)."""
    return mode in ("host", "none")


def entry_config(epc):
    """The configured part of a network entry, from an EndpointSettings document."""
    epc = epc or {}
    ipam = epc.get("IPAMConfig") or {}
    out = {"aliases": [str(a) for a in epc.get("Aliases") or [] if a],
           "IPAMConfig": {k: v for k, v in ipam.items() if v} or None,
           "network_id": ""}
    if epc.get("MacAddress"):
        out["MacAddress"] = str(epc["MacAddress"])
    if epc.get("Links"):
        out["links"] = links.endpoint_links(epc["Links"])
    return out


def api_before_144():
    """The request's API version is < 1.44 (no per-network MAC address then)."""
    return has_request_context() and not versioning.at_least(request.environ, "1.44")


def check_endpoint_config(name, cfg):
    """Docker refuses aliases and static addresses on the predefined networks."""
    if is_user_network(name):
        return
    if cfg["aliases"]:
        raise errors.InvalidArgument(ALIAS_ERROR)
    ipam = cfg["IPAMConfig"] or {}
    if ipam.get("IPv4Address") or ipam.get("IPv6Address"):
        raise errors.InvalidArgument(IP_ERROR)


def _strings(values):
    """A HostConfig list that may be null (Dns, DnsSearch, DnsOptions)."""
    return [str(v) for v in values or [] if v is not None]


def clear_runtime(entry):
    for key in RUNTIME_KEYS:
        entry.pop(key, None)
    return entry


def fill_runtime(entry, ep):
    entry.update({"network_id": ep.network_id, "endpoint_id": ep.endpoint_id,
                  "ip_address": ep.ip_address, "prefix_len": ep.prefix_len, "gateway": ep.gateway,
                  "mac_address": ep.mac_address, "dns_names": list(ep.dns_names) or None,
                  "ipv6_address": ep.ipv6_address, "ipv6_prefix_len": ep.ipv6_prefix_len,
                  "ipv6_gateway": ep.ipv6_gateway})
    return entry


class ContainerNetworks:
    """The networking half of the container backend (`backend.nets`)."""

    def __init__(self, backend):
        self.backend = backend
        self.c = backend.c

    # ------------------------------------------------------------------ create
    def plan(self, cid, name, config, hc, networking, undo):
        """Validate the networks and make the sandbox; returns the record's network document."""
        mode = hc.get("NetworkMode") or "default"
        primary = primary_of(mode)
        wanted = {}
        for key, value in (networking.get("EndpointsConfig") or {}).items():
            wanted[primary_of(key)] = value or {}
        macs.reconcile(config, mode, primary, wanted, api_before_144())
        if mode.startswith("container:"):
            return self._join_container(mode, config)
        order = [primary]
        if primary not in ("host", "none"):
            order += [n for n in wanted if n != primary]
        elif any(n != primary for n in wanted):
            raise errors.InvalidArgument(HOST_ERROR if primary == "host" else NONE_ERROR)
        networks = {}
        for network in order:
            cfg = entry_config(wanted.get(network))
            check_endpoint_config(network, cfg)
            try:
                net = self._network(network)
            except errors.NotFound:
                # dockerd finds out at start ("network X not found"): a 404 at create would
                # make the CLI try to pull the image.
                networks[network] = cfg
                continue
            check_endpoint_config(net.name, cfg)
            cfg["network_id"] = net.id
            networks[net.name] = cfg
        order = list(networks)
        doc = {"mode": mode, "order": order, "networks": networks, "attached": False,
               "sandbox_id": ids.new_id(), "ports": {}}
        # host/none: their endpoint is the sandbox. Other modes: an endpoint on "none" makes the
        # sandbox, then leaves it empty until start.
        keep = keeps_endpoints(order[0])
        first = order[0] if keep else "none"
        undo.append(lambda: self.c.networks.Detach(networks_pb2.DetachRequest(container_id=cid, network="")))
        ep = self.c.networks.Attach(self._attach_request(cid, name, config, hc, first, {}))
        if keep:
            fill_runtime(networks[order[0]], ep)
            doc["attached"] = True
        else:
            self.c.networks.Detach(networks_pb2.DetachRequest(container_id=cid, network="none"))
        doc.update(netns_path=ep.netns_path, hosts_path=ep.hosts_path,
                   resolv_conf_path=ep.resolv_conf_path, hostname_path=ep.hostname_path)
        return doc

    def _join_container(self, mode, config):
        other = self.backend.get(mode.split(":", 1)[1])
        if not other.state.running:
            raise errors.Conflict("cannot join network of a non running container: %s" % other.id)
        onet = views.loads(other.network_json, {}) or {}
        config["Hostname"] = self.backend.config_of(other).get("Hostname") or config["Hostname"]
        return {"mode": "container:" + other.id, "netns_path": onet.get("netns_path", ""),
                "hosts_path": other.hosts_path, "resolv_conf_path": other.resolv_conf_path,
                "hostname_path": other.hostname_path, "networks": {}, "order": [],
                "container": other.id, "attached": False, "ports": {}}

    def _network(self, ref):
        try:
            return self.c.networks.Get(networks_pb2.GetNetworkRequest(ref=ref))
        except errors.NotFound:
            raise errors.NotFound("network %s not found" % ref) from None

    def _attach_request(self, cid, name, config, hc, network, cfg, port_bindings=()):
        ipam = cfg.get("IPAMConfig") or {}
        return networks_pb2.AttachRequest(
            container_id=cid, network=network, aliases=list(cfg.get("aliases") or []),
            ipv4_address=ipam.get("IPv4Address") or "", ipv6_address=ipam.get("IPv6Address") or "",
            mac_address=cfg.get("MacAddress") or "", links=list(cfg.get("links") or []),
            hostname=config.get("Hostname") or "", domainname=config.get("Domainname") or "",
            extra_hosts=list(hc.get("ExtraHosts") or []), container_name=name,
            port_bindings=[networks_pb2.PortBinding(**b) for b in port_bindings],
            dns=_strings(hc.get("Dns")), dns_search=_strings(hc.get("DnsSearch")),
            dns_options=_strings(hc.get("DnsOptions")))

    # ------------------------------------------------------------------ start / stop
    def attach(self, rec):
        """Before a start: join every configured network that has no endpoint yet (the primary
        one with the published ports) and record what was joined. Returns the networks the run
        is on, [(id, name)], for the connect events; the record remembers that a run began
        ("started") so that its end reports them exactly once (see release)."""
        doc = views.loads(rec.network_json, {}) or {}
        mode = doc.get("mode") or "default"
        if mode.startswith("container:"):
            other = self.backend.get(doc.get("container") or mode.split(":", 1)[1])
            if not other.state.running:
                raise errors.Conflict("cannot join network of a non running container: %s" % other.id)
            doc["started"] = True
            self._save(rec.id, doc)
            return []
        config, hc = self.backend.config_of(rec), self.backend.host_config_of(rec)
        live = {ep.network_name: ep for ep in self.c.networks.Endpoints(
            networks_pb2.EndpointsRequest(container_id=rec.id)).endpoints}
        order = doc.get("order") or list(doc.get("networks") or {})
        networks = doc.setdefault("networks", {})
        joined = []
        try:
            for i, network in enumerate(order):
                if network in live:
                    continue
                cfg = networks.get(network) or {}
                bindings = ports.bindings(config, hc) if i == 0 else ()
                try:
                    live[network] = self.c.networks.Attach(self._attach_request(
                        rec.id, rec.name, config, hc, network, cfg, bindings))
                except errors.NotFound:
                    raise errors.NotFound("network %s not found" % network) from None
                joined.append(network)
        except BaseException:
            for network in joined:
                self._detach_quietly(rec.id, network)
            raise
        for network in order:
            if network in live:
                fill_runtime(networks.setdefault(network, entry_config({})), live[network])
        doc["ports"] = ports.ports_from_endpoint(live[order[0]].port_bindings) \
            if order and order[0] in live else {}
        doc["attached"] = doc["started"] = True
        self._save(rec.id, doc)
        return self._joined(doc)

    def release(self, rec):
        """After the container stopped: leave its networks (the sandbox stays), free its ports.
        Returns the networks the ended run was on, [(id, name)], or None when no run was
        pending its end (already released, or never started)."""
        doc = views.loads(rec.network_json, {}) or {}
        mode = doc.get("mode") or "default"
        detach = doc.get("attached") and not (mode.startswith("container:")
                                              or keeps_endpoints(primary_of(mode)))
        had_flag = "started" in doc
        # Records from before "started" existed: endpoints joined at start mean a run.
        started = doc.pop("started", bool(detach))
        joined = self._joined(doc) if started else None
        if detach:
            for network in doc.get("order") or list(doc.get("networks") or {}):
                self._detach_quietly(rec.id, network)
            for entry in (doc.get("networks") or {}).values():
                clear_runtime(entry)
            doc["ports"], doc["attached"] = {}, False
        if detach or had_flag:
            self._save(rec.id, doc)
        return joined

    @staticmethod
    def _joined(doc):
        """(id, name) of the networks with an endpoint, in the record's order."""
        networks = doc.get("networks") or {}
        out = []
        for name in doc.get("order") or list(networks):
            entry = networks.get(name) or {}
            if entry.get("endpoint_id") and entry.get("network_id"):
                out.append((entry["network_id"], name))
        return out

    def _detach_quietly(self, cid, network):
        try:
            self.c.networks.Detach(networks_pb2.DetachRequest(container_id=cid, network=network))
        except errors.NotFound:
            pass
        except errors.DockyardError as exc:
            log.warning("leaving network %s of %s failed: %s", network, cid[:12], exc)

    def _save(self, cid, doc):
        self.c.containers.Update(containers_pb2.UpdateContainerRequest(
            id=cid, network_json=json.dumps(doc).encode()))

    # ------------------------------------------------------------------ connect / disconnect
    def connect(self, ref, net, endpoint_config):
        rec = self.backend.get(ref)
        with self.backend.lock(rec.id):
            rec = self.backend.get(rec.id)
            doc = views.loads(rec.network_json, {}) or {}
            mode = doc.get("mode") or "default"
            if mode.startswith("container:"):
                raise errors.InvalidArgument(SHARED_NETNS_ERROR)
            if mode == "host" or net.name == "host":
                raise errors.InvalidArgument(HOST_ERROR)
            if mode == "none" or net.name == "none":
                raise errors.InvalidArgument(NONE_ERROR)
            networks = doc.setdefault("networks", {})
            if net.name in networks:
                raise Forbidden("endpoint with name %s already exists in network %s"
                                % (rec.name, net.name))
            cfg = entry_config(endpoint_config)
            if api_before_144():
                cfg.pop("MacAddress", None)
            elif cfg.get("MacAddress"):
                macs.check(cfg["MacAddress"])
            check_endpoint_config(net.name, cfg)
            cfg["network_id"] = net.id
            if rec.state.running and doc.get("attached"):
                config, hc = self.backend.config_of(rec), self.backend.host_config_of(rec)
                try:
                    ep = self.c.networks.Attach(self._attach_request(
                        rec.id, rec.name, config, hc, net.id, cfg))
                except errors.Conflict as exc:
                    raise Forbidden(exc.message) from None
                except errors.FailedPrecondition as exc:
                    raise errors.InvalidArgument(exc.message) from None
                fill_runtime(cfg, ep)
            networks[net.name] = cfg
            doc.setdefault("order", []).append(net.name)
            self._save(rec.id, doc)
        if cfg.get("endpoint_id"):
            # A stopped container joins at its next start, where the event is (as dockerd).
            self._event("connect", net, rec.id)

    def disconnect(self, ref, net, force=False):
        try:
            rec = self.backend.get(ref)
        except errors.NotFound:
            if not force:
                raise
            # dockerd forceEndpointDelete: drop a stale endpoint of a container that is gone.
            self._detach_quietly(ref, net.id)
            return
        with self.backend.lock(rec.id):
            rec = self.backend.get(rec.id)
            doc = views.loads(rec.network_json, {}) or {}
            mode = doc.get("mode") or "default"
            if mode == "host" or net.name == "host":
                raise errors.InvalidArgument(HOST_ERROR)
            networks = doc.get("networks") or {}
            if net.name not in networks:
                raise errors.NotFound("container %s is not connected to network %s"
                                      % (rec.id, net.name))
            left = bool(doc.get("attached") and networks[net.name].get("endpoint_id"))
            if doc.get("attached"):
                try:
                    self.c.networks.Detach(networks_pb2.DetachRequest(container_id=rec.id,
                                                                      network=net.id))
                except errors.NotFound:
                    pass
            order = doc.get("order") or []
            if order and order[0] == net.name:
                doc["ports"] = {}  # they were published by this endpoint
            del networks[net.name]
            doc["order"] = [n for n in order if n != net.name]
            self._save(rec.id, doc)
        if left:
            # dockerd 20.10 reports leaving a live endpoint twice: once when the endpoint goes
            # (disconnectFromNetwork), once for the API call (DisconnectFromNetwork).
            self._event("disconnect", net, rec.id)
        self._event("disconnect", net, rec.id)

    # ------------------------------------------------------------------ rename
    def renamed(self, rec):
        """After `docker rename` (`rec`: the renamed record): the endpoints and the embedded DNS
        take the new name and stop answering the old one (libnetwork's sandbox Rename), and the
        record's DNSNames follow. A failure is logged: the next start's attach renames too."""
        doc = views.loads(rec.network_json, {}) or {}
        if (doc.get("mode") or "").startswith("container:"):
            return  # no sandbox of its own
        try:
            eps = self.c.networks.Rename(networks_pb2.RenameRequest(
                container_id=rec.id, container_name=rec.name)).endpoints
        except errors.NotFound:
            return
        except errors.DockyardError as exc:
            log.warning("renaming the endpoints of %s failed: %s", rec.id[:12], exc)
            return
        with self.backend.lock(rec.id):
            rec = self.backend.get(rec.id)
            doc = views.loads(rec.network_json, {}) or {}
            networks = doc.get("networks") or {}
            changed = False
            for ep in eps:
                entry = networks.get(ep.network_name)
                if entry is not None and entry.get("endpoint_id") == ep.endpoint_id:
                    entry["dns_names"] = list(ep.dns_names) or None
                    changed = True
            if changed:
                self._save(rec.id, doc)

    def _event(self, action, net, cid):
        event_attrs.emit_network(self.backend.daemon.events, action, net.id, net.name,
                                 net.driver, container=cid)

