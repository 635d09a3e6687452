"""OCI platforms as containerd's platforms package (1.6, the one Docker 20.10 uses): parse a
`--platform` specifier, normalize, format, the host's platform, and matching.

Matching is containerd's `Only`: a platform also runs what older CPUs of its family run
(arm64 -> arm/v8..v5, arm/v7 -> v6, v5, amd64 -> 386, amd64/v3 -> v2, v1), ranked in that
order, which is how an index entry is chosen. Variants are compared normalized: arm64 and
arm64/v8 are one platform, so are amd64 and amd64/v1, and arm means arm/v7.
"""

import json
import platform as _host
import re
from dataclasses import dataclass

from . import errors

_COMPONENT = re.compile(r"^[A-Za-z0-9_-]+$")
_KNOWN_OS = ("aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js",
             "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "windows", "zos")
_KNOWN_ARCH = ("386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le",
               "loong64", "mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc",
               "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64", "wasm")
# uname -m -> GOARCH (and the variant the CPU implies)
_MACHINES = {"x86_64": ("amd64", ""), "amd64": ("amd64", ""), "aarch64": ("arm64", "v8"),
             "arm64": ("arm64", "v8"), "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"),
             "armv5tel": ("arm", "v5"), "i386": ("386", ""), "i686": ("386", ""),
             "ppc64le": ("ppc64le", ""), "s390x": ("s390x", ""), "riscv64": ("riscv64", ""),
             "mips64": ("mips64", "")}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self):
        return format_platform(self)


def _invalid(message):
    # containerd wraps errdefs.ErrInvalidArgument: dockerd's text ends with ": invalid argument"
    return errors.InvalidArgument(message + ": invalid argument")


def _q(text):
    """Go's %q for the usual (ASCII) specifiers."""
    return json.dumps(text, ensure_ascii=False)


def normalize_os(os_):
    os_ = (os_ or "linux").lower()
    return "darwin" if os_ == "macos" else os_


def normalize_arch(arch, variant):
    arch, variant = (arch or "").lower(), (variant or "").lower()
    if arch == "i386":
        return "386", ""
    if arch in ("x86_64", "x86-64", "amd64"):
        return "amd64", "" if variant == "v1" else variant
    if arch in ("aarch64", "arm64"):
        return "arm64", "" if variant in ("8", "v8") else variant
    if arch == "armhf":
        return "arm", "v7"
    if arch == "armel":
        return "arm", "v6"
    if arch == "arm":
        if variant in ("", "7"):
            return "arm", "v7"
        if variant in ("5", "6", "8"):
            return "arm", "v" + variant
    return arch, variant


def normalize(p):
    arch, variant = normalize_arch(p.architecture, p.variant)
    return Platform(normalize_os(p.os), arch, variant)


def format_platform(p):
    if not p.os:
        return "unknown"
    return "/".join(x for x in (p.os, p.architecture, p.variant) if x)


def host():
    """The daemon's own platform (containerd's DefaultSpec): linux/amd64, linux/arm64/v8, ..."""
    machine = _host.machine()
    arch, variant = _MACHINES.get(machine, (machine.lower(), ""))
    if arch == "arm":
        variant = _arm_variant() or variant
    return Platform("linux", arch, variant)


def _arm_variant():
    """The "CPU architecture" of /proc/cpuinfo, as containerd's cpuVariant (32-bit arm only)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip().lower() == "cpu architecture":
                    value = value.strip()
                    return "v" + value if value in ("5", "6", "7", "8") else ""
    except OSError:
        pass
    return ""


def parse(specifier):
    """A `--platform` value (os | arch | os/arch[/variant]) as containerd's platforms.Parse,
    with its errors (dockerd answers them with 400)."""
    if "*" in specifier:
        raise _invalid("%s: wildcards not yet supported" % _q(specifier))
    parts = specifier.split("/")
    for part in parts:
        if not _COMPONENT.match(part):
            raise _invalid("%s is an invalid component of %s: platform specifier component must "
                           "match %s" % (_q(part), _q(specifier), _q(_COMPONENT.pattern)))
    if len(parts) == 1:
        # an OS we know takes the host's architecture; otherwise it must be an architecture
        os_ = normalize_os(parts[0])
        if os_ in _KNOWN_OS:
            h = host()
            return Platform(os_, h.architecture, h.variant if h.architecture == "arm" and
                            h.variant != "v7" else "")
        arch, variant = normalize_arch(parts[0], "")
        if arch == "arm" and variant == "v7":
            variant = ""
        if arch in _KNOWN_ARCH:
            return Platform("linux", arch, variant)
        raise _invalid("%s: unknown operating system or architecture" % _q(specifier))
    if len(parts) == 2:
        arch, variant = normalize_arch(parts[1], "")
        if arch == "arm" and variant == "v7":
            variant = ""
        return Platform(normalize_os(parts[0]), arch, variant)
    if len(parts) == 3:
        arch, variant = normalize_arch(parts[1], parts[2])
        if arch == "arm64" and not variant:
            variant = "v8"
        return Platform(normalize_os(parts[0]), arch, variant)
    raise _invalid("%s: cannot parse platform specifier" % _q(specifier))


def of_config(cfg):
    """The platform an image config declares (os, architecture, variant), as given."""
    cfg = cfg if isinstance(cfg, dict) else {}
    return Platform(str(cfg.get("os") or ""), str(cfg.get("architecture") or ""),
                    str(cfg.get("variant") or ""))


def of_descriptor(desc):
    """The platform of a manifest list / index entry."""
    p = desc.get("platform") if isinstance(desc, dict) else None
    p = p if isinstance(p, dict) else {}
    return Platform(str(p.get("os") or ""), str(p.get("architecture") or ""),
                    str(p.get("variant") or ""))


def _vector(p):
    """containerd's platformVector: p, then what p also runs, best first."""
    out = [p]
    num = p.variant[1:] if p.variant.startswith("v") else p.variant
    if p.architecture == "amd64":
        if num.isdigit() and int(num) > 1:
            out += [Platform(p.os, "amd64", "v%d" % v) for v in range(int(num) - 1, 0, -1)]
        out.append(Platform(p.os, "386"))
    elif p.architecture == "arm":
        if num.isdigit() and int(num) > 5:
            out += [Platform(p.os, "arm", "v%d" % v) for v in range(int(num) - 1, 4, -1)]
    elif p.architecture == "arm64":
        out += _vector(Platform(p.os, "arm", p.variant or "v8"))
    return out


class Only:
    """containerd's platforms.Only(p): match() and rank() (lower is better, None: no match)."""

    def __init__(self, p):
        self.platform = normalize(p)
        self.vector = [normalize(v) for v in _vector(self.platform)]

    def rank(self, other):
        other = normalize(other)
        for i, want in enumerate(self.vector):
            if want == other:
                return i
        return None

    def match(self, other):
        return self.rank(other) is not None


def matches_image(wanted, image):
    """moby's OnlyPlatformWithFallback: whether an image config's platform satisfies `wanted`;
    an image without variant matches on os and architecture alone (its config rarely says)."""
    if Only(wanted).match(image):
        return True
    if image.variant:
        return False
    w, i = normalize(wanted), normalize(image)
    return (w.os, w.architecture) == (i.os, i.architecture)


def select(descriptors, wanted=None):
    """The index entries for `wanted` (None: the host's), best first, as dockerd's
    filterManifests: containerd's Only ranking; for arm, entries without the variant after
    that (older manifest lists did not say)."""
    p = normalize(wanted or host())
    only = Only(p)
    ranked = []
    for i, desc in enumerate(descriptors):
        rank = only.rank(of_descriptor(desc))
        if rank is not None:
            ranked.append((rank, i, desc))
    if not ranked and p.architecture == "arm":
        ranked = [(0, i, d) for i, d in enumerate(descriptors)
                  if (of_descriptor(d).os, of_descriptor(d).architecture) == (p.os, p.architecture)]
    ranked.sort(key=lambda r: (r[0], r[1]))
    return [desc for _, _, desc in ranked]

