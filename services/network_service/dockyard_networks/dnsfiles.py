"""The per-container /etc/hosts, /etc/resolv.conf and /etc/hostname, rendered as Docker does.

Files are rewritten in place (same inode): they are bind-mounted into running containers, and a
rename would leave the container looking at the old file.
"""

import os
import re

HOSTS_HEADER = ("127.0.0.1\tlocalhost\n"
                "::1\tlocalhost ip6-localhost ip6-loopback\n"
                "fe00::0\tip6-localnet\n"
                "ff00::0\tip6-mcastprefix\n"
                "ff02::1\tip6-allnodes\n"
                "ff02::2\tip6-allrouters\n")

EMBEDDED_DNS = "127.0.0.11"
# Docker's fallback when the host only has local resolvers, unreachable from a container.
FALLBACK_NAMESERVERS = ("8.8.8.8", "8.8.4.4")


def parse_extra_host(entry):
    """"name:ip" (Docker's --add-host; the ip may be IPv6, so split at the first colon)."""
    name, sep, ip = entry.partition(":")
    if not sep or not name or not ip:
        raise ValueError("invalid extra host %r (want name:ip)" % entry)
    return name, ip


def render_hosts(own_ips, hostname, domainname="", extra_hosts=(), aliases=()):
    """/etc/hosts: the fixed header, the extra hosts, then one line per container address."""
    lines = [HOSTS_HEADER]
    for entry in extra_hosts:
        name, ip = parse_extra_host(entry)
        lines.append("%s\t%s\n" % (ip, name))
    names = [hostname] if hostname else []
    if hostname and domainname:
        names.insert(0, "%s.%s" % (hostname, domainname))
    for alias in aliases:
        if alias not in names:
            names.append(alias)
    if names:
        for ip in own_ips:
            if ip:
                lines.append("%s\t%s\n" % (ip, " ".join(names)))
    return "".join(lines)


_LOCAL_NS = re.compile(r"^\s*nameserver\s+(127\.\S*|::1|0\.0\.0\.0)\s*$")


def render_resolv_conf(host_text, embedded_dns=False):
    """resolv.conf derived from the host's.

    Default bridge: the host's file minus localhost nameservers (unreachable from the
    container's netns); none left -> Google's, as Docker. User networks: the embedded DNS server,
    keeping the host's search and options lines.
    """
    kept, nameservers = [], 0
    for line in host_text.splitlines():
        stripped = line.strip()
        if stripped.startswith("nameserver"):
            if embedded_dns or _LOCAL_NS.match(line):
                continue
            nameservers += 1
        kept.append(line)
    if embedded_dns:
        body = [l for l in kept if l.strip().startswith(("search", "domain"))]
        opts = [l for l in kept if l.strip().startswith("options")]
        return "\n".join(["nameserver " + EMBEDDED_DNS] + body
                         + (opts or ["options ndots:0"])) + "\n"
    if nameservers == 0:
        kept += ["nameserver " + ns for ns in FALLBACK_NAMESERVERS]
    return "\n".join(kept).rstrip("\n") + "\n"


def nameservers(resolv_text):
    """The nameserver addresses of a resolv.conf (for the embedded DNS to forward to)."""
    out = []
    for line in resolv_text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            addr = parts[1].split("%")[0]  # drop an IPv6 zone
            if addr not in out:
                out.append(addr)
    return out


def is_embedded(resolv_text):
    """Does this resolv.conf point at the embedded DNS server?"""
    return any(line.split()[:2] == ["nameserver", EMBEDDED_DNS] for line in resolv_text.splitlines())


def write_in_place(path, text):
    """Replace the content of `path` keeping its inode (it may be bind-mounted)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    with os.fdopen(fd, "w") as f:
        f.truncate(0)
        f.write(text)


def read_text(path, default=""):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return default
