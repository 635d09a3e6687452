"""The per-container /etc/hosts and /etc/hostname, rendered as Docker does (resolv.conf: see
resolvconf.py), and the in-place file writes they all need.

Files are rewritten in place (same inode): they are bind-mounted into running containers, and a
rename would leave the container looking at the old file.
"""

import os

HOSTS_HEADER = ("127.0.0.1\tlocalhost\n"
                "::1\tlocalhost ip6-localhost ip6-loopback\n"
                "fe00::0\tip6-localnet\n"
                "ff00::0\tip6-mcastprefix\n"
                "ff02::1\tip6-allnodes\n"
                "ff02::2\tip6-allrouters\n")


def parse_extra_host(entry):
    """"name:ip" (Docker's --add-host; the ip may be IPv6, so split at the first colon)."""
    name, sep, ip = entry.partition(":")
    if not sep or not name or not ip:
        raise ValueError("invalid extra host %r (want name:ip)" % entry)
    return name, ip


def render_hosts(own_ips, hostname, domainname="", extra_hosts=(), aliases=(), link_lines=()):
    """/etc/hosts: the fixed header, the extra hosts, the links' lines (container_links.py),
    then one line per container address."""
    lines = [HOSTS_HEADER]
    for entry in extra_hosts:
        name, ip = parse_extra_host(entry)
        lines.append("%s\t%s\n" % (ip, name))
    lines += link_lines
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
