"""Our iptables chains (the `iptables` binary; see README.md for why not nftables directly).

Two chains named from DOCKYARD_IPTABLES_CHAIN_PREFIX, each hooked once at the top of the
built-in chain, so that nothing of Docker's (DOCKER*, docker0) is ever touched:

- filter <P>-FORWARD (from FORWARD): traffic inside a bridge is accepted (with br_netfilter
  loaded and a DROP policy, as a Docker host has, it would be dropped otherwise); traffic between
  two of our bridges is dropped (isolation); internal networks get no way out.
- nat <P>-POSTROUTING (from POSTROUTING): masquerade of each non-internal subnet leaving its
  bridge.

Chains are rewritten whole with `iptables-restore --noflush`, atomically per table.
"""

import logging
import subprocess

log = logging.getLogger(__name__)


class Firewall:
    def __init__(self, prefix, binary="iptables"):
        self.binary = binary
        self.forward = prefix + "-FORWARD"
        self.postrouting = prefix + "-POSTROUTING"
        self._hooks = (("filter", "FORWARD", self.forward), ("nat", "POSTROUTING", self.postrouting))

    def _run(self, *args, check=True, stdin=None):
        return subprocess.run([self.binary, "-w", *args] if stdin is None else [*args],
                              input=stdin, capture_output=True, text=True, check=check, timeout=30)

    @staticmethod
    def rules(networks):
        """(filter rules, nat rules) for a list of dicts with bridge, subnet, internal."""
        filt, nat = [], []
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
                nat.append("-s %s ! -o %s -j MASQUERADE" % (n["subnet"], br))
        return filt, nat

    def sync(self, networks):
        """Make our chains say exactly what `networks` need, and hook them."""
        filt, nat = self.rules(networks)
        text = ["*filter", ":%s - [0:0]" % self.forward]
        text += ["-A %s %s" % (self.forward, r) for r in filt]
        text += ["COMMIT", "*nat", ":%s - [0:0]" % self.postrouting]
        text += ["-A %s %s" % (self.postrouting, r) for r in nat]
        text += ["COMMIT", ""]
        self._run(self.binary + "-restore", "-w", "--noflush", stdin="\n".join(text))
        for table, builtin, chain in self._hooks:
            if self._run("-t", table, "-C", builtin, "-j", chain, check=False).returncode != 0:
                self._run("-t", table, "-I", builtin, "1", "-j", chain)

    def remove_all(self):
        """Unhook and delete our chains (teardown); missing ones are fine."""
        for table, builtin, chain in self._hooks:
            while self._run("-t", table, "-D", builtin, "-j", chain, check=False).returncode == 0:
                pass
            self._run("-t", table, "-F", chain, check=False)
            self._run("-t", table, "-X", chain, check=False)
