"""Docker image references (distribution/reference): parse, validate, normalize to the
familiar form the image store uses ("busybox:latest", "example.com:5000/a/b:tag")."""

import re
from dataclasses import dataclass

from dockyard_common import errors

_ALNUM = r"[a-z0-9]+"
_SEP = r"(?:[._]|__|[-]+)"
_COMPONENT = _ALNUM + r"(?:" + _SEP + _ALNUM + r")*"
_DOMAIN_COMP = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = _DOMAIN_COMP + r"(?:\." + _DOMAIN_COMP + r")*(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(r"^((?:%s/)?%s(?:/%s)*)(?::(%s))?(?:@(%s))?$"
                        % (_DOMAIN, _COMPONENT, _COMPONENT, _TAG, _DIGEST))
_HEX64 = re.compile(r"^[a-f0-9]{64}$")
_ID_LIKE = re.compile(r"^(?:sha256:)?[a-f0-9]{1,64}$")

DEFAULT_DOMAIN = "docker.io"
DEFAULT_TAG = "latest"


@dataclass(frozen=True)
class Reference:
    name: str        # familiar repository name: "busybox", "conformance/x", "host:5000/a"
    tag: str = ""
    digest: str = ""

    @property
    def full_name(self):
        """Fully qualified repository name: docker.io/library/busybox."""
        first = self.name.split("/", 1)[0]
        if "/" in self.name and ("." in first or ":" in first or first == "localhost"):
            return self.name
        if "/" not in self.name:
            return "%s/library/%s" % (DEFAULT_DOMAIN, self.name)
        return "%s/%s" % (DEFAULT_DOMAIN, self.name)

    def with_default_tag(self):
        if self.tag or self.digest:
            return self
        return Reference(self.name, DEFAULT_TAG, "")

    def __str__(self):
        s = self.name
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s


def _familiar_name(name):
    for prefix in ("docker.io/library/", "index.docker.io/library/"):
        if name.startswith(prefix) and "/" not in name[len(prefix):]:
            return name[len(prefix):]
    for prefix in ("docker.io/", "index.docker.io/"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def parse(text):
    """Parse a reference as ParseNormalizedNamed does; raises InvalidArgument (400)."""
    if not text:
        raise errors.InvalidArgument("invalid reference format")
    if _HEX64.match(text):
        raise errors.InvalidArgument(
            "invalid repository name (%s), cannot specify 64-byte hexadecimal strings" % text)
    m = _REFERENCE.match(text)
    if not m:
        if _REFERENCE.match(text.lower()):
            raise errors.InvalidArgument("invalid reference format: repository name (%s) must be lowercase"
                                         % text.split(":")[0].split("@")[0])
        raise errors.InvalidArgument("invalid reference format")
    name, tag, digest = m.group(1), m.group(2) or "", m.group(3) or ""
    first = name.split("/", 1)[0]
    if "/" in name and ("." in first or ":" in first or first == "localhost"):
        path = name.split("/", 1)[1]
    else:
        path = name
    if path != path.lower():
        raise errors.InvalidArgument("invalid reference format: repository name (%s) must be lowercase" % name)
    if len(name) > 255:
        raise errors.InvalidArgument("invalid reference format: repository name must not be more than 255 characters")
    return Reference(_familiar_name(name), tag, digest)


def looks_like_id(text):
    """An image id or id prefix ("sha256:abc...", "abc123"): resolved by the store as such."""
    return bool(_ID_LIKE.match(text))


def normalize_lookup(text):
    """What to ask the image store for `text`: ids as they are, names in familiar form with
    the default tag ("docker.io/library/busybox" -> "busybox:latest")."""
    if looks_like_id(text):
        return text
    try:
        return str(parse(text).with_default_tag())
    except errors.InvalidArgument:
        return text


def is_id_prefix(image_id, ref):
    """True when `ref` names the image by (a prefix of) its id, as moby's isImageIDPrefix."""
    hexid = image_id.split(":", 1)[-1]
    r = ref[7:] if ref.startswith("sha256:") else ref
    return bool(r) and looks_like_id(r) and hexid.startswith(r)


def familiar_match(pattern, ref_text):
    """reference.FamiliarMatch: glob `pattern` ('*' does not cross '/') against "name:tag"
    and against the bare name."""
    rx = _glob(pattern)
    name = ref_text.split("@", 1)[0]
    bare = name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name
    return bool(rx.match(ref_text) or rx.match(bare))


def _glob(pattern):
    out = ""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            j = pattern.find("]", i)
            if j < 0:
                out += re.escape(c)
            else:
                out += "[" + pattern[i + 1:j].replace("\\", "\\\\") + "]"
                i = j
        else:
            out += re.escape(c)
        i += 1
    return re.compile("^" + out + "$")
