"""The network service's core (libnetwork's role): networks, IPAM, sandboxes and endpoints.

Plain Python over a Store (network.db) and a Links backend (kernel state through pyroute2);
server.py adapts it to gRPC. One lock serialises every change, so concurrent attaches can never
pick the same address.
"""

import ipaddress
import logging
import os
import re
import shutil
import socket
import threading
from dataclasses import dataclass

from dockyard_common import ids
from dockyard_common.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound

from . import container_links, dnsfiles, dnsrecords, ipam, ipam_plan, macvlan, portmap, resolvconf
from .store import Store

log = logging.getLogger(__name__)

OPT_DEFAULT_BRIDGE = "com.docker.network.bridge.default_bridge"
OPT_BRIDGE_NAME = "com.docker.network.bridge.name"
PREDEFINED = ("bridge", "host", "none")
NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
HOST_MODE_ERROR = "container cannot be disconnected from host network or connected to host network"
NONE_MODE_ERROR = ("container cannot be connected to multiple networks with one of the networks "
                   "in private (none) mode")


@dataclass
class HostFiles:
    """Where the host's own files live (swapped in unit tests)."""
    hosts: str = "/etc/hosts"
    resolv_conf: str = "/etc/resolv.conf"

    def hostname(self):
        return socket.gethostname()


def _is_hex(s):
    return bool(s) and all(c in "0123456789abcdef" for c in s)


class NetworkManager:
    def __init__(self, cfg, links, store=None, host_files=None, firewall=None, ports=None,
                 dns=None, vlan=None):
        self.cfg = cfg
        self.links = links
        self.vlan = vlan or macvlan.VlanDriver()  # the macvlan and ipvlan drivers
        self.firewall = firewall
        self.ports = ports if ports is not None else portmap.PortAllocator()
        self.dns = dns  # a DnsServer (None: no embedded DNS, as in most unit tests)
        self.store = store or Store(cfg.db_path)
        self.host = host_files or HostFiles()
        self.lock = threading.RLock()

    # ------------------------------------------------------------------ startup
    def ensure_predefined(self):
        """Create the "bridge", "host" and "none" networks if missing (as dockerd at start)."""
        with self.lock:
            subnet = ipam.parse_subnet(self.cfg.bridge_subnet)
            gateway = str(ipam.default_gateway(subnet))
            options = {OPT_DEFAULT_BRIDGE: "true", OPT_BRIDGE_NAME: self.cfg.bridge_name,
                       "com.docker.network.bridge.enable_icc": "true",
                       "com.docker.network.bridge.enable_ip_masquerade": "true",
                       "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                       "com.docker.network.driver.mtu": "1500"}
            row = self.store.network_by_name("bridge")
            if row is None:
                self._add_network("bridge", "bridge", subnet=str(subnet), gateway=gateway,
                                  options=options, bridge_name=self.cfg.bridge_name, predefined=1)
            elif (row["subnet"], row["bridge_name"]) != (str(subnet), self.cfg.bridge_name):
                if self.store.endpoints(network_id=row["id"]):
                    log.warning("default bridge config changed while in use; keeping the old one")
                else:
                    self.store.update_network(row["id"], subnet=str(subnet), gateway=gateway,
                                              options=options, bridge_name=self.cfg.bridge_name)
            for name, driver in (("host", "host"), ("none", "null")):
                if self.store.network_by_name(name) is None:
                    self._add_network(name, driver, predefined=1)

    def reconcile(self):
        """Before serving: predefined networks, every bridge up and addressed, and endpoints
        whose netns vanished (host reboot, manual cleanup) dropped. Nothing running is touched."""
        self.ensure_predefined()
        with self.lock:
            for net in self.store.networks():
                if net["driver"] == "bridge":
                    try:
                        self._ensure_bridge(net)
                    except Exception:
                        log.exception("cannot restore bridge", extra={"bridge": net["bridge_name"]})
                elif macvlan.handles(net["driver"]):
                    try:
                        self.vlan.restore(net)
                    except Exception:
                        log.exception("cannot restore parent link", extra={"link": net["parent"]})
            for sb in self.store.sandboxes():
                if sb["mode"] == "netns" and not self.links.sandbox_alive(sb["netns_path"]):
                    log.info("sandbox gone, dropping its endpoints",
                             extra={"container_id": sb["container_id"]})
                    self._destroy_sandbox(sb)
            for row in self.store.published():
                self.ports.hold(_binding(row), target=(row["ip"], row["ip6"]))
            self._sync_firewall()
            self._refresh_dns()

    def _sync_firewall(self, strict=False):
        """Rewrite our chains from network.db. `strict`: raise on failure (published ports
        need the rules; bridged traffic alone still flows with a FORWARD policy of ACCEPT)."""
        if self.firewall is None:
            return
        nets = [dict({"bridge": n["bridge_name"], "subnet": n["subnet"],
                      "internal": n["internal"]}, **_v6_of(n))
                for n in self.store.networks() if n["driver"] == "bridge"]
        # IPv6 host addresses are the userland proxy's (portmap), not NAT's
        ports = [p for p in self.store.published()
                 if p["ip"] and not p["internal"] and ":" not in p["host_ip"]]
        try:
            self.firewall.sync(nets, ports)
        except Exception as exc:
            if strict:
                raise
            log.warning("cannot update iptables rules: %s", getattr(exc, "stderr", "") or exc)

    def _refresh_dns(self):
        """Hand the embedded DNS server the names of now, and the sandboxes it must serve."""
        if self.dns is None:
            return
        sandboxes = self.store.sandboxes()
        host_options = resolvconf.options(dnsfiles.read_text(self.host.resolv_conf))
        records = dnsrecords.build(self.store.networks(), self.store.endpoints(), sandboxes,
                                   host_options)
        paths = {s["container_id"]: s["netns_path"] for s in sandboxes}
        self.dns.update(records, {cid: paths[cid] for cid in records.views})

    def _add_network(self, name, driver, **values):
        net_id = ids.new_id()
        self.store.add_network(id=net_id, name=name, driver=driver, created=ids.now_rfc3339(),
                               **values)
        return self.store.network(net_id)

    def _ensure_bridge(self, net):
        subnet = ipaddress.ip_network(net["subnet"])
        if net.get("enable_ipv6") and net.get("subnet6"):
            self.links.ensure_bridge(net["bridge_name"], net["gateway"], subnet.prefixlen,
                                     gateway6=net["gateway6"],
                                     prefixlen6=ipaddress.ip_network(net["subnet6"]).prefixlen)
        else:
            self.links.ensure_bridge(net["bridge_name"], net["gateway"], subnet.prefixlen)

    # ------------------------------------------------------------------ networks
    def resolve(self, ref):
        """A network by exact id, exact name, then unique id prefix (Docker's order)."""
        row = self.store.network(ref) or self.store.network_by_name(ref) if ref else None
        if row:
            return row
        if _is_hex(ref):
            found = self.store.networks_by_prefix(ref)
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise InvalidArgument("network %s is ambiguous (%d matches found based on ID prefix)"
                                      % (ref, len(found)))
        raise NotFound("network %s not found" % ref)

    def get(self, ref):
        with self.lock:
            net = self.resolve(ref)
            return net, self.store.endpoints(network_id=net["id"])

    def list(self):
        with self.lock:
            return [(n, self.store.endpoints(network_id=n["id"])) for n in self.store.networks()]

    def create(self, name, driver="", internal=False, ipam_configs=(), options=None, labels=None,
               enable_ipv6=False):
        options, labels = dict(options or {}), dict(labels or {})
        driver = driver or "bridge"
        if not name:
            raise InvalidArgument("network name is required")
        if not NAME_RE.match(name):
            raise InvalidArgument("invalid network name %r: only [a-zA-Z0-9][a-zA-Z0-9_.-] are "
                                  "allowed" % name)
        if driver in ("host", "null"):
            raise FailedPrecondition('only one instance of "%s" network is allowed' % driver)
        if driver != "bridge" and not macvlan.handles(driver):
            raise NotFound('plugin "%s" not found' % driver)
        v4_configs, v6_configs = ipam_plan.split(ipam_configs)
        if len(v4_configs) > 1:
            raise InvalidArgument("only one IPv4 IPAM config is supported")
        cfg = v4_configs[0] if v4_configs else {}
        with self.lock:
            if self.store.network_by_name(name):
                raise Conflict("network with name %s already exists" % name)
            v6 = ipam_plan.plan_v6(v6_configs, enable_ipv6, [
                ipaddress.ip_network(n["subnet6"]) for n in self.store.networks() if n["subnet6"]])
            used = [ipaddress.ip_network(n["subnet"]) for n in self.store.networks() if n["subnet"]]
            if cfg.get("subnet"):
                subnet = ipam.parse_subnet(cfg["subnet"])
                ipam.check_overlap(subnet, used)
            elif cfg.get("gateway") or cfg.get("ip_range"):
                raise InvalidArgument("a subnet is required when a gateway or ip-range is given")
            else:
                subnet = ipam.choose_subnet(self.cfg.pool, self.cfg.pool_prefix,
                                            used + self._host_routes())
            gateway = (ipam.parse_address(cfg["gateway"], "gateway") if cfg.get("gateway")
                       else ipam.default_gateway(subnet))
            ipam.check_gateway(subnet, gateway)
            ip_range = ""
            if cfg.get("ip_range"):
                rng = ipam.parse_subnet(cfg["ip_range"])
                if not rng.subnet_of(subnet):
                    raise InvalidArgument("invalid ip-range %s: it is not inside subnet %s"
                                          % (rng, subnet))
                ip_range = str(rng)
            net_id = ids.new_id()
            values = dict(internal=int(bool(internal)), subnet=str(subnet), gateway=str(gateway),
                          gateway_shown=int(bool(cfg.get("gateway")) or not cfg.get("subnet")),
                          ip_range=ip_range, options=options, labels=labels,
                          enable_ipv6=int(bool(enable_ipv6)), **v6)
            if driver == "bridge":
                values["bridge_name"] = self._bridge_name(net_id, options)
                self._ensure_bridge(values)
            else:
                values.update(self.vlan.create_network(driver, net_id, options, internal,
                                                       self.store.networks()))
            self.store.add_network(id=net_id, name=name, driver=driver, created=ids.now_rfc3339(),
                                   **values)
            self._sync_firewall()
            log.info("network created", extra={"network": name, "subnet": str(subnet)})
            return self.store.network(net_id), []

    def _bridge_name(self, net_id, options):
        name = options.get(OPT_BRIDGE_NAME) or "br-" + net_id[:12]
        if len(name) > 15:
            raise InvalidArgument("bridge name %s is longer than 15 characters" % name)
        if any(n["bridge_name"] == name for n in self.store.networks()):
            raise Conflict("bridge name %s is already in use by another network" % name)
        return name

    def _host_routes(self):
        try:
            return self.links.host_routes()
        except Exception:
            log.exception("cannot read host routes")
            return []

    def remove(self, ref):
        with self.lock:
            net = self.resolve(ref)
            if net["predefined"]:
                raise FailedPrecondition("%s is a pre-defined network and cannot be removed"
                                         % net["name"])
            if self.store.endpoints(network_id=net["id"]):
                raise FailedPrecondition("error while removing network: network %s id %s has "
                                         "active endpoints" % (net["name"], net["id"]))
            if net["driver"] == "bridge":
                self.links.delete_link(net["bridge_name"])
            elif macvlan.handles(net["driver"]):
                self.vlan.remove_network(net)
            self.store.delete_network(net["id"])
            self._sync_firewall()
            log.info("network removed", extra={"network": net["name"]})

    def prune(self, label_filters=None):
        """Remove unused user-defined networks whose labels match (key, or key=value)."""
        removed = []
        with self.lock:
            for net in self.store.networks():
                if net["predefined"] or self.store.endpoints(network_id=net["id"]):
                    continue
                if not _labels_match(net["labels"], label_filters or {}):
                    continue
                self.remove(net["id"])
                removed.append(net["name"])
        return removed

    # ------------------------------------------------------------------ endpoints
    def attach(self, container_id, network, aliases=(), ipv4_address="", hostname="",
               domainname="", extra_hosts=(), container_name="", port_bindings=(), dns=(),
               dns_search=(), dns_options=(), ipv6_address="", mac_address="", links=()):
        """Join `network`, making the sandbox first if there is none (hostname, extra hosts,
        name and the --dns* lists only count then: they are the sandbox's). ipv6_address is
        ignored on a network without IPv6 (as Docker 20.10); mac_address ("" = derived from
        the IPv4 address) only counts on bridge and macvlan networks."""
        if not container_id:
            raise InvalidArgument("container id is required")
        mac = ipam.parse_mac(mac_address) if mac_address else None
        wanted = portmap.expand(port_bindings, self.ports.ipv6)
        for entry in extra_hosts:
            try:
                dnsfiles.parse_extra_host(entry)
            except ValueError as exc:
                raise InvalidArgument(str(exc)) from None
        with self.lock:
            net = self.resolve(network)
            sb = self.store.sandbox(container_id)
            if sb is not None and container_name and sb["container_name"] != container_name:
                # renamed while the service could not be told (see rename)
                self.store.update_sandbox(container_id, container_name=container_name)
                sb = self.store.sandbox(container_id)
            if self.store.endpoint(container_id, net["id"]):
                raise Conflict("endpoint with name %s already exists in network %s"
                               % (container_name or container_id[:12], net["name"]))
            mine = self.store.endpoints(container_id=container_id)
            if (net["driver"] == "host") != (sb is not None and sb["mode"] == "host") and sb:
                raise FailedPrecondition(HOST_MODE_ERROR)
            nets = {e["network_id"]: self.store.network(e["network_id"]) for e in mine}
            if mine and (net["driver"] == "null"
                         or any(n and n["driver"] == "null" for n in nets.values())):
                raise FailedPrecondition(NONE_MODE_ERROR)
            if (ipv4_address or ipv6_address) and not dnsrecords.is_user_network(net):
                raise InvalidArgument("user specified IP address is supported on user defined "
                                      "networks only")
            requested = ipam.parse_address(ipv4_address, "IPv4 address") if ipv4_address else None
            requested6 = (ipam.parse_address(ipv6_address, "IPv6 address", version=6)
                          if ipv6_address else None)
            created = False
            if sb is None:
                sb = self._create_sandbox(container_id, net, hostname, domainname,
                                          extra_hosts, container_name,
                                          {"dns": list(dns), "dns_search": list(dns_search),
                                           "dns_options": list(dns_options)})
                created = True
            try:
                ep = self._join(sb, net, list(aliases), (requested, requested6, mac), mine,
                                wanted, list(links))
            except BaseException:
                if created:
                    self._destroy_sandbox(sb)
                raise
            self._write_hosts(sb)
            for linking in container_links.linking_sandboxes(self.store, container_id, net):
                self._write_hosts(linking)  # the target's new address (dockerd's parent update)
            if dnsrecords.is_user_network(net):
                self._use_embedded_dns(sb)
            self._refresh_dns()
            return self._endpoint_view(ep, net, sb)

    def _create_sandbox(self, container_id, net, hostname, domainname, extra_hosts, name, dns):
        """`dns`: the --dns, --dns-search and --dns-option lists (kept with the sandbox)."""
        files = self.cfg.sandbox_files_dir(container_id)
        os.makedirs(files, exist_ok=True)
        host_mode = net["driver"] == "host"
        netns_path = "" if host_mode else self.cfg.netns_path(container_id)
        host_resolv = dnsfiles.read_text(self.host.resolv_conf)
        if host_mode:
            hostname = hostname or self.host.hostname()
            resolv = resolvconf.host_mode_resolv_conf(host_resolv, **dns)
        else:
            hostname = hostname or container_id[:12]
            resolv = resolvconf.sandbox_resolv_conf(host_resolv, **dns)
        dnsfiles.write_in_place(os.path.join(files, "resolv.conf"), resolv)
        dnsfiles.write_in_place(os.path.join(files, "hostname"), hostname + "\n")
        if not host_mode:
            if os.path.exists(netns_path) and not self.links.sandbox_alive(netns_path):
                os.unlink(netns_path)  # an empty leftover of a crash
            self.links.create_sandbox(netns_path)
        self.store.add_sandbox(container_id=container_id, netns_path=netns_path, files_dir=files,
                               hostname=hostname, domainname=domainname,
                               extra_hosts=list(extra_hosts), container_name=name,
                               mode="host" if host_mode else "netns", **dns)
        log.info("sandbox created", extra={"container_id": container_id, "netns": netns_path})
        return self.store.sandbox(container_id)

    def _use_embedded_dns(self, sb):
        """A sandbox joining its first user network gets 127.0.0.11 over its current file (as
        Docker's resolver start rewrites resolv.conf); the file is bind-mounted, so it is
        rewritten in place. A bad ndots option leaves the file as it is (Docker logs it)."""
        path = os.path.join(sb["files_dir"], "resolv.conf")
        current = dnsfiles.read_text(path)
        if resolvconf.is_embedded(current):
            return
        try:
            dnsfiles.write_in_place(path, resolvconf.embedded_resolv_conf(current))
        except ValueError as exc:
            log.warning("embedded DNS not set in resolv.conf: %s",
                        exc, extra={"container_id": sb["container_id"]})

    def _join(self, sb, net, aliases, requested, mine, wanted=(), links=()):
        """`requested`: (IPv4 address, IPv6 address, MAC), each None for one of ours."""
        ep = {"endpoint_id": ids.new_id(), "container_id": sb["container_id"],
              "network_id": net["id"], "aliases": aliases, "created": ids.now_rfc3339(),
              "links": list(links)}
        published = []
        try:
            if net["driver"] == "bridge":
                published = self._bridge_endpoint(sb, net, ep, requested, mine, wanted)
            elif macvlan.handles(net["driver"]):  # publishes nothing: -p is ignored (as Docker)
                self._vlan_endpoint(sb, net, ep, requested, mine)
            with self.store.transaction():
                self.store.add_endpoint(**ep)
                for key in ("ip", "ip6"):
                    if ep.get(key):
                        self.store.allocate(net["id"], ep[key], ep["endpoint_id"])
                for seq, b in enumerate(published):
                    self.store.add_port(endpoint_id=ep["endpoint_id"], seq=seq, **b.as_dict())
        except BaseException:
            self.ports.release(published)
            if ep.get("host_veth") or ep.get("interface"):
                self.links.remove_endpoint(ep.get("host_veth", ""), sb["netns_path"],
                                           ep.get("interface", ""))
            raise
        if published:
            try:
                self._sync_firewall(strict=True)
            except Exception as exc:
                self._leave(self.store.endpoint(sb["container_id"], net["id"]), sb)
                self._sync_firewall()
                raise FailedPrecondition("driver failed programming external connectivity on "
                                         "endpoint %s (%s): %s" % (
                                             _ep_name(sb), ep["endpoint_id"],
                                             (getattr(exc, "stderr", "") or str(exc)).strip()))
        log.info("endpoint joined", extra={"container_id": sb["container_id"],
                                           "network": net["name"], "ip": ep.get("ip", "")})
        return self.store.endpoint(sb["container_id"], net["id"])

    def _bridge_endpoint(self, sb, net, ep, requested, mine, wanted):
        """Address, published ports and veth of a bridge endpoint (fills `ep`); returns the
        published Bindings, held."""
        ip, subnet, gateway, v6 = self._addresses(net, ep, requested)
        mac = requested[2] or ipam.mac_for(ip)
        ifname = _next_ifname(mine)
        wants_route = not net["internal"] and not any(e["default_route"] for e in mine)
        published = []
        if wanted and not net["internal"]:  # internal networks publish nothing (as Docker)
            taken = [_binding(r) for r in self.store.ports()]
            published = self.ports.allocate(wanted, taken, _ep_name(sb), ep["endpoint_id"],
                                            target=(str(ip), str(v6[0]) if v6 else ""))
        try:
            self._ensure_bridge(net)
            extra = {}
            if v6:
                extra = dict(address6=v6[0], prefixlen6=v6[1],
                             gateway6=v6[2] if wants_route else None)
            host_veth = self.links.add_endpoint(net["bridge_name"], sb["netns_path"], ifname,
                                                mac, ip, subnet.prefixlen,
                                                gateway if wants_route else None, **extra)
        except BaseException:
            self.ports.release(published)
            raise
        ep.update(ip=str(ip), prefix_len=subnet.prefixlen, gateway=str(gateway), mac=mac,
                  interface=ifname, host_veth=host_veth, default_route=int(wants_route))
        return published

    def _vlan_endpoint(self, sb, net, ep, requested, mine):
        """Address and sub-interface of a macvlan/ipvlan endpoint (fills `ep`)."""
        ip, subnet, gateway, v6 = self._addresses(net, ep, requested)
        ifname = _next_ifname(mine)
        mac = requested[2] or (ipam.mac_for(ip) if net["driver"] == "macvlan" else "")
        free = not any(e["default_route"] for e in mine)
        ep.update(self.vlan.add_endpoint(net, sb["netns_path"], ifname, mac, ip,
                                         subnet.prefixlen, gateway, free, v6=v6),
                  ip=str(ip), prefix_len=subnet.prefixlen, interface=ifname)

    def _addresses(self, net, ep, requested):
        """(ip, subnet, gateway, v6) of a new endpoint from the network's IPAM; v6 is
        (address, prefixlen, gateway) or None, and goes into `ep` too."""
        requested, requested6, _ = requested
        subnet = ipaddress.ip_network(net["subnet"])
        gateway = ipaddress.ip_address(net["gateway"])
        taken = {ipaddress.ip_address(a) for a in self.store.allocated(net["id"])}
        label = "%s (%s)" % (net["name"], net["id"][:12])
        ip = ipam.allocate(subnet, gateway, taken, ip_range=net["ip_range"] or None,
                           requested=requested, network_name=label)
        if not _v6_of(net):
            return ip, subnet, gateway, None
        subnet6 = ipaddress.ip_network(net["subnet6"])
        gateway6 = ipaddress.ip_address(net["gateway6"])
        ip6 = ipam.allocate(subnet6, gateway6, taken, ip_range=net["ip_range6"] or None,
                            requested=requested6, network_name=label)
        ep.update(ip6=str(ip6), prefix_len6=subnet6.prefixlen, gateway6=str(gateway6))
        return ip, subnet, gateway, (ip6, subnet6.prefixlen, gateway6)

    def detach(self, container_id, network=""):
        """Leave one network (NotFound when not on it), or with network "" leave all and
        destroy the sandbox (idempotent)."""
        with self.lock:
            if not network:
                sb = self.store.sandbox(container_id)
                if sb:
                    self._destroy_sandbox(sb)
                    self._refresh_dns()
                return
            net = self.resolve(network)
            ep = self.store.endpoint(container_id, net["id"])
            if ep is None:
                raise NotFound("container %s is not connected to network %s"
                               % (container_id, net["name"]))
            sb = self.store.sandbox(container_id)
            if sb and sb["mode"] == "host":
                self._destroy_sandbox(sb)
                return
            if self._leave(ep, sb):
                self._sync_firewall()
            if sb and ep["default_route"]:
                self._move_default_route(sb)
            if sb:
                self._write_hosts(sb)
            self._refresh_dns()

    def _leave(self, ep, sb, unlink=True):
        """Remove one endpoint; True when it had published ports (the caller syncs the
        firewall). unlink=False leaves the veth to the removal of its netns."""
        ports = [_binding(r) for r in self.store.ports(ep["endpoint_id"])]
        if unlink and (ep["host_veth"] or ep["interface"]):
            self.links.remove_endpoint(ep["host_veth"], sb["netns_path"] if sb else "",
                                       ep["interface"])
        self.store.delete_endpoint(ep["endpoint_id"])
        self.ports.release(ports)
        log.info("endpoint left", extra={"container_id": ep["container_id"],
                                         "network_id": ep["network_id"]})
        return bool(ports)

    def _move_default_route(self, sb):
        """The gateway endpoint left: route through another one, as Docker picks a new one."""
        for other in self.store.endpoints(container_id=sb["container_id"]):
            net = self.store.network(other["network_id"])
            if other["interface"] and other["gateway"] and net and not net["internal"]:
                try:
                    if other["gateway6"]:
                        self.links.set_default_route(sb["netns_path"], other["gateway"],
                                                     other["interface"], other["gateway6"])
                    else:
                        self.links.set_default_route(sb["netns_path"], other["gateway"],
                                                     other["interface"])
                    self.store.update_endpoint(other["endpoint_id"], default_route=1)
                except Exception:
                    log.exception("cannot move the default route")
                return

    def _destroy_sandbox(self, sb):
        if self.dns is not None:
            self.dns.forget(sb["container_id"])  # its sockets would keep the netns alive
        had_ports = False
        veths = []
        for ep in self.store.endpoints(container_id=sb["container_id"]):
            try:
                # With a netns, its removal takes the veth pairs along (see Links.remove_sandbox).
                had_ports |= self._leave(ep, None, unlink=not sb["netns_path"])
                if sb["netns_path"] and ep["host_veth"]:
                    veths.append(ep["host_veth"])
            except Exception:
                log.exception("cannot remove endpoint", extra={"container_id": ep["container_id"]})
                had_ports |= bool(self.store.ports(ep["endpoint_id"]))
                self.ports.release([_binding(r) for r in self.store.ports(ep["endpoint_id"])])
                self.store.delete_endpoint(ep["endpoint_id"])
        if had_ports:
            self._sync_firewall()
        if sb["netns_path"]:
            self.links.remove_sandbox(sb["netns_path"], veths)
        shutil.rmtree(sb["files_dir"], ignore_errors=True)
        self.store.delete_sandbox(sb["container_id"])
        log.info("sandbox removed", extra={"container_id": sb["container_id"]})

    def _write_hosts(self, sb):
        path = os.path.join(sb["files_dir"], "hosts")
        extra = sb["extra_hosts"]
        if sb["mode"] == "host":
            base = dnsfiles.read_text(self.host.hosts)
            lines = [base.rstrip("\n") + "\n"] if base.strip() else []
            lines += ["%s\t%s\n" % tuple(reversed(dnsfiles.parse_extra_host(e))) for e in extra]
            dnsfiles.write_in_place(path, "".join(lines))
            return
        ips = [ip for e in self.store.endpoints(container_id=sb["container_id"])
               for ip in (e["ip"], e["ip6"]) if ip]
        dnsfiles.write_in_place(path, dnsfiles.render_hosts(
            ips, sb["hostname"], sb["domainname"], extra,
            link_lines=container_links.hosts_lines(self.store, sb["container_id"])))

    def rename(self, container_id, container_name):
        """`docker rename`: the embedded DNS answers the new name (and no longer the old one)
        and the endpoints show it; aliases are untouched. Returns the endpoint views."""
        with self.lock:
            if self.store.sandbox(container_id) is None:
                raise NotFound("container %s has no network sandbox" % container_id)
            self.store.update_sandbox(container_id, container_name=container_name)
            self._refresh_dns()
            log.info("sandbox renamed", extra={"container_id": container_id,
                                               "container_name": container_name})
        return self.endpoints(container_id)

    def endpoints(self, container_id):
        with self.lock:
            sb = self.store.sandbox(container_id)
            out = []
            for ep in self.store.endpoints(container_id=container_id):
                out.append(self._endpoint_view(ep, self.store.network(ep["network_id"]), sb))
            return out

    def endpoint_views(self, rows):
        """Views of endpoint rows (as listed with a network)."""
        with self.lock:
            return [self._endpoint_view(ep, self.store.network(ep["network_id"]),
                                        self.store.sandbox(ep["container_id"])) for ep in rows]

    def _endpoint_view(self, ep, net, sb):
        """An endpoint row joined with its network and sandbox (what the API returns)."""
        files = sb["files_dir"] if sb else self.cfg.sandbox_files_dir(ep["container_id"])
        names = []
        if dnsrecords.is_user_network(net) and sb and sb["mode"] == "netns":
            names = dnsrecords.dns_names(sb["container_name"], ep["container_id"], ep["aliases"])
        return dict(ep, network_name=net["name"] if net else "",
                    port_bindings=[_binding(r).as_dict()
                                   for r in self.store.ports(ep["endpoint_id"])],
                    dns_names=names,
                    netns_path=sb["netns_path"] if sb else "",
                    hosts_path=os.path.join(files, "hosts"),
                    resolv_conf_path=os.path.join(files, "resolv.conf"),
                    hostname_path=os.path.join(files, "hostname"),
                    container_name=sb["container_name"] if sb else "")


def _v6_of(net):
    """{"subnet6": ...} of a network whose endpoints get IPv6 addresses, else {}."""
    if net.get("enable_ipv6") and net.get("subnet6"):
        return {"subnet6": net["subnet6"]}
    return {}


def _next_ifname(mine):
    used = {e["interface"] for e in mine}
    return next("eth%d" % i for i in range(len(used) + 1) if "eth%d" % i not in used)


def _binding(row):
    return portmap.Binding(row["protocol"], row["host_ip"], row["host_port"],
                           row["container_port"])


def _ep_name(sb):
    """The endpoint name in Docker's messages: the container's name."""
    return sb["container_name"].lstrip("/") or sb["container_id"][:12]


def _labels_match(labels, filters):
    for key, value in filters.items():
        if key not in labels or (value and labels[key] != value):
            return False
    return True
