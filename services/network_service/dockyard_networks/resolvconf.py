"""A container's /etc/resolv.conf, rendered as Docker 20.10's libnetwork does (resolvconf.Build,
FilterResolvDNS, sandbox setupDNS and rebuildDNS), and the parsing the embedded DNS needs.

Pure text in, text out: the manager reads and writes the files (dnsfiles.write_in_place).
"""

import ipaddress
import re

EMBEDDED_DNS = "127.0.0.11"
# Docker's fallback when the host only has local resolvers, unreachable from a container.
FALLBACK_NAMESERVERS = ("8.8.8.8", "8.8.4.4")


_LOCAL_NS = re.compile(r"^\s*nameserver\s+(127\.\S*|::1|0\.0\.0\.0)\s*$")


def _lines(text):
    """Lines without their "#" comments (libnetwork's resolvconf.getLines)."""
    return [line.split("#", 1)[0] for line in text.splitlines()]


def nameservers(resolv_text, family=None):
    """The nameserver addresses of a resolv.conf; family 4 or 6 keeps only those."""
    out = []
    for line in _lines(resolv_text):
        parts = line.split()
        if len(parts) != 2 or parts[0] != "nameserver":
            continue
        addr = parts[1].split("%")[0]  # drop an IPv6 zone
        try:
            version = ipaddress.ip_address(addr).version
        except ValueError:
            continue
        if (family is None or family == version) and addr not in out:
            out.append(addr)
    return out


def _last(resolv_text, keyword):
    """The words of the last `keyword` line (resolvconf.GetSearchDomains/GetOptions)."""
    found = []
    for line in _lines(resolv_text):
        parts = line.split()
        if parts and parts[0] == keyword:
            found = parts[1:]
    return found


def search_domains(resolv_text):
    return _last(resolv_text, "search")


def options(resolv_text):
    return _last(resolv_text, "options")


def build(servers, search=(), opts=()):
    """A resolv.conf as libnetwork's resolvconf.Build writes it ("search ." means none)."""
    out = []
    if search and " ".join(search).strip() != ".":
        out.append("search " + " ".join(search))
    out += ["nameserver " + ns for ns in servers]
    if opts and " ".join(opts).strip():
        out.append("options " + " ".join(opts))
    return "".join(line + "\n" for line in out)


def with_flags(base_text, dns=(), dns_search=(), dns_options=()):
    """--dns/--dns-search/--dns-option over a base resolv.conf: each given list replaces the
    base's (its nameservers are kept as they are, local ones included, as Docker)."""
    return build(list(dns) or nameservers(base_text), list(dns_search) or search_domains(base_text),
                 list(dns_options) or options(base_text))


def has_flags(dns=(), dns_search=(), dns_options=()):
    return bool(dns or dns_search or dns_options)


def sandbox_resolv_conf(host_text, dns=(), dns_search=(), dns_options=()):
    """A new netns sandbox's resolv.conf before any user network (libnetwork setupDNS): the
    flags over the host's file, else the host's file filtered."""
    if has_flags(dns, dns_search, dns_options):
        return with_flags(host_text, dns, dns_search, dns_options)
    return render_resolv_conf(host_text)


def host_mode_resolv_conf(host_text, dns=(), dns_search=(), dns_options=()):
    """--network host: a copy of the host's file unless a flag is given."""
    if has_flags(dns, dns_search, dns_options):
        return with_flags(host_text, dns, dns_search, dns_options)
    return host_text


def ndots_set(opts):
    """Does an options list set ndots itself? ValueError on a bad ndots (as libnetwork, which
    then leaves the container's resolv.conf without the embedded DNS)."""
    for opt in opts:
        if "ndots" in opt:
            parts = opt.split(":")
            if len(parts) != 2:
                raise ValueError("invalid ndots option %s" % opt)
            try:
                num = int(parts[1])
            except ValueError:
                raise ValueError("invalid number for ndots option: %s" % parts[1]) from None
            if num < 0:
                raise ValueError("invalid number for ndots option: %d" % num)
            return True
    return False


def embedded_resolv_conf(current_text):
    """The resolv.conf of a sandbox once the embedded DNS serves it (libnetwork rebuildDNS):
    127.0.0.11 then the IPv6 nameservers of the current file, its search and options, plus
    ndots:0 unless they set ndots. ValueError on a bad ndots option."""
    opts = options(current_text)
    if not ndots_set(opts):
        opts = opts + ["ndots:0"]
    return build([EMBEDDED_DNS] + nameservers(current_text, family=6),
                 search_domains(current_text), opts)


def render_resolv_conf(host_text, embedded_dns=False):
    """resolv.conf derived from the host's.

    Default bridge: the host's file minus localhost nameservers (unreachable from the
    container's netns); none left -> Google's, as Docker. User networks: the embedded DNS
    server over that (see embedded_resolv_conf).
    """
    kept, count = [], 0
    for line in host_text.splitlines():
        if line.strip().startswith("nameserver"):
            if _LOCAL_NS.match(line):
                continue
            count += 1
        kept.append(line)
    if count == 0:
        kept += ["nameserver " + ns for ns in FALLBACK_NAMESERVERS]
    out = "\n".join(kept).rstrip("\n") + "\n"
    return embedded_resolv_conf(out) if embedded_dns else out


def is_embedded(resolv_text):
    """Does this resolv.conf point at the embedded DNS server?"""
    return any(line.split()[:2] == ["nameserver", EMBEDDED_DNS] for line in resolv_text.splitlines())
