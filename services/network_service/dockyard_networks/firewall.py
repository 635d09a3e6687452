"""Our iptables chains (the `iptables` binary; see README.md for why not nftables directly).

Chains named from DOCKYARD_IPTABLES_CHAIN_PREFIX, each hooked once at the top of a built-in chain,
so that nothing of Docker's (DOCKER*, docker0) is ever touched:

- filter <P>-FORWARD (from FORWARD): traffic inside a bridge is accepted (with br_netfilter
  loaded and a DROP policy, as a Docker host has, it would be dropped otherwise); traffic between
  two of our bridges is dropped (isolation); internal networks get no way out; forwarded traffic
  to a published container port is accepted.
- nat <P>-POSTROUTING (from POSTROUTING): masquerade of each non-internal subnet leaving its
  bridge; of loopback sources sent to a bridge with published ports (the host reaching
  127.0.0.1:<port>, DNATed in OUTPUT); hairpin (a container reaching its own published port).
- nat <P>-PORTS (from PREROUTING and OUTPUT, for local destinations): DNAT of published ports,
  Docker's `--userland-proxy=false` mode. Loopback works because the bridge has route_localnet=1.
- raw <P>-PREROUTING (from PREROUTING): drop packets for 127.0.0.0/8 arriving on a bridge with
  route_localnet=1, so containers cannot reach the host's loopback-only services through it.

Chains are rewritten whole with `iptables-restore --noflush`, atomically per table.

IPv6 (networks created with --ipv6): only filter <P>-FORWARD in ip6tables, with the same
accept/isolation/internal rules for the bridges that carry IPv6; no NAT (Docker 20.10 neither
masquerades nor publishes over IPv6 by default). The ip6tables chain exists only while such a
network does.
"""

import logging
import subprocess

log = logging.getLogger(__name__)

LOCAL_DST = ("-m", "addrtype", "--dst-type", "LOCAL")


class Firewall:
    def __init__(self, prefix, binary="iptables", ipv6=True):
        self.binary = binary
        self.v6 = Firewall6(prefix) if ipv6 else None
        self.forward = prefix + "-FORWARD"
        self.postrouting = prefix + "-POSTROUTING"
        self.ports = prefix + "-PORTS"
        self.raw = prefix + "-PREROUTING"
        # (table, built-in chain, match before the jump, our chain)
        self._hooks = (("filter", "FORWARD", (), self.forward),
                       ("nat", "POSTROUTING", (), self.postrouting),
                       ("nat", "PREROUTING", LOCAL_DST, self.ports),
                       ("nat", "OUTPUT", LOCAL_DST, self.ports),
                       ("raw", "PREROUTING", (), self.raw))

    def _run(self, *args, check=True, stdin=None):
        return subprocess.run([self.binary, "-w", *args] if stdin is None else [*args],
                              input=stdin, capture_output=True, text=True, check=check, timeout=30)

    @staticmethod
    def forward_rules(networks):
        """filter FORWARD rules of bridges (dicts with bridge, internal): isolation, internal
        networks cut off, traffic inside and out of a bridge accepted."""
        filt = []
        bridges = [n["bridge"] for n in networks]
        for n in networks:
            br = n["bridge"]
            for other in bridges:
                if other != br:
                    filt.append("-i %s -o %s -j DROP" % (br, other))
            if n["internal"]:
                filt.append("-i %s ! -o %s -j DROP" % (br, br))
                filt.append("-o %s ! -i %s -j DROP" % (br, br))
            filt.append("-i %s -o %s -j ACCEPT" % (br, br))
            if not n["internal"]:
                filt.append("-o %s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT" % br)
                filt.append("-i %s ! -o %s -j ACCEPT" % (br, br))
        return filt

    @staticmethod
    def rules(networks, ports=()):
        """{table: rules} for networks (dicts with bridge, subnet, internal, and subnet6 when
        IPv6 is enabled) and published ports (dicts with bridge, ip (the container's),
        protocol, host_ip, host_port, container_port)."""
        filt, nat, dnat, raw = Firewall.forward_rules(networks), [], [], []
        for n in networks:
            if not n["internal"]:
                nat.append("-s %s ! -o %s -j MASQUERADE" % (n["subnet"], n["bridge"]))
        with_ports = []
        for p in ports:
            br, proto = p["bridge"], p["protocol"]
            if br not in with_ports:
                with_ports.append(br)
            dest = "" if p["host_ip"] == "0.0.0.0" else "-d %s/32 " % p["host_ip"]
            dnat.append("%s-p %s -m %s --dport %d -j DNAT --to-destination %s:%d" % (
                dest, proto, proto, p["host_port"], p["ip"], p["container_port"]))
            filt.append("-d %s/32 ! -i %s -o %s -p %s -m %s --dport %d -j ACCEPT" % (
                p["ip"], br, br, proto, proto, p["container_port"]))
            nat.append("-s %s/32 -d %s/32 -p %s -m %s --dport %d -j MASQUERADE" % (
                p["ip"], p["ip"], proto, proto, p["container_port"]))
        for br in with_ports:
            nat.append("-s 127.0.0.0/8 -o %s -j MASQUERADE" % br)
            raw.append("-d 127.0.0.0/8 -i %s -j DROP" % br)
        return {"filter": filt, "nat": nat, "dnat": dnat, "raw": raw}

    def render(self, networks, ports=()):
        """The iptables-restore input that makes our chains say exactly `rules()`."""
        r = self.rules(networks, ports)
        text = ["*filter", ":%s - [0:0]" % self.forward]
        text += ["-A %s %s" % (self.forward, x) for x in r["filter"]]
        text += ["COMMIT", "*nat", ":%s - [0:0]" % self.postrouting, ":%s - [0:0]" % self.ports]
        text += ["-A %s %s" % (self.postrouting, x) for x in r["nat"]]
        text += ["-A %s %s" % (self.ports, x) for x in r["dnat"]]
        text += ["COMMIT", "*raw", ":%s - [0:0]" % self.raw]
        text += ["-A %s %s" % (self.raw, x) for x in r["raw"]]
        text += ["COMMIT", ""]
        return "\n".join(text)

    def sync(self, networks, ports=()):
        """Make our chains say exactly what `networks` and `ports` need, and hook them."""
        self._run(self.binary + "-restore", "-w", "--noflush", stdin=self.render(networks, ports))
        self._hook()
        if self.v6 is not None:
            self.v6.sync([n for n in networks if n.get("subnet6")])

    def _hook(self):
        for table, builtin, match, chain in self._hooks:
            if self._run("-t", table, "-C", builtin, *match, "-j", chain, check=False).returncode:
                self._run("-t", table, "-I", builtin, "1", *match, "-j", chain)

    def remove_all(self):
        """Unhook and delete our chains (teardown); missing ones are fine."""
        for table, builtin, match, chain in self._hooks:
            while self._run("-t", table, "-D", builtin, *match, "-j", chain,
                            check=False).returncode == 0:
                pass
        for table, _, _, chain in self._hooks:
            self._run("-t", table, "-F", chain, check=False)
            self._run("-t", table, "-X", chain, check=False)
        if self.v6 is not None:
            self.v6.remove_all()


class Firewall6(Firewall):
    """ip6tables: filter <P>-FORWARD only, present while some network has IPv6."""

    def __init__(self, prefix):
        super().__init__(prefix, binary="ip6tables", ipv6=False)
        self._hooks = (("filter", "FORWARD", (), self.forward),)
        self.active = None  # unknown at start: the first sync without IPv6 cleans up

    def render(self, networks, ports=()):
        text = ["*filter", ":%s - [0:0]" % self.forward]
        text += ["-A %s %s" % (self.forward, x) for x in self.forward_rules(networks)]
        return "\n".join(text + ["COMMIT", ""])

    def sync(self, networks, ports=()):
        if networks:
            self._run(self.binary + "-restore", "-w", "--noflush", stdin=self.render(networks))
            self._hook()
            self.active = True
        elif self.active is not False:
            self.remove_all()
            self.active = False
