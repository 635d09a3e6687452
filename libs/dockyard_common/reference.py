"""Docker image references: parsing, validation and the "familiar" normalized form.

Follows distribution/reference: "busybox" means docker.io/library/busybox:latest and is shown
as "busybox:latest"; a first component with "." or ":" (or "localhost") is a registry host.
"""

import re
from dataclasses import dataclass

from dockyard_common import errors

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_MAX = 255

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = r"(?:%s(?:\.%s)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?" % (_DOMAIN_COMPONENT, _DOMAIN_COMPONENT)
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_PATH_RE = re.compile(r"^%s(?:/%s)*$" % (_COMPONENT, _COMPONENT))
_DOMAIN_RE = re.compile(r"^%s$" % _DOMAIN)
_TAG_RE = re.compile(r"^%s$" % _TAG)
_DIGEST_RE = re.compile(r"^%s$" % _DIGEST)
HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
SHORT_ID_RE = re.compile(r"^[0-9a-f]{1,64}$")


def invalid(detail=""):
    return errors.InvalidArgument("invalid reference format" + (": " + detail if detail else ""))


@dataclass(frozen=True)
class Reference:
    domain: str          # "docker.io" for Docker Hub
    path: str            # "library/busybox"
    tag: str = ""
    digest: str = ""

    @property
    def name(self):
        """Full name: "docker.io/library/busybox"."""
        return self.domain + "/" + self.path

    @property
    def familiar_name(self):
        """Short name as Docker shows it: "busybox", "foo/bar", "localhost:5000/x"."""
        if self.domain == DEFAULT_DOMAIN:
            path = self.path
            if path.startswith(OFFICIAL_PREFIX) and path.count("/") == 1:
                path = path[len(OFFICIAL_PREFIX):]
            return path
        return self.name

    def with_default_tag(self):
        if self.tag or self.digest:
            return self
        return Reference(self.domain, self.path, DEFAULT_TAG, "")

    def familiar(self):
        """"busybox:latest", "foo/bar@sha256:..." (no tag is added)."""
        out = self.familiar_name
        if self.tag:
            out += ":" + self.tag
        if self.digest:
            out += "@" + self.digest
        return out

    def __str__(self):
        return self.familiar()


def parse(ref):
    """Parse a reference like the CLI writes it (ParseNormalizedNamed); raise InvalidArgument."""
    if not ref:
        raise invalid()
    remainder, digest = ref, ""
    if "@" in remainder:
        remainder, digest = remainder.split("@", 1)
        if not _DIGEST_RE.match(digest):
            raise invalid()
    name, tag = remainder, ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
        if not _TAG_RE.match(tag):
            raise invalid()
    if len(name) > NAME_TOTAL_MAX:
        raise invalid("repository name must not be more than 255 characters")
    domain, path = _split_domain(name)
    if not _PATH_RE.match(path):
        if _PATH_RE.match(path.lower()):
            raise invalid("repository name must be lowercase")
        raise invalid()
    if domain != DEFAULT_DOMAIN and not _DOMAIN_RE.match(domain):
        raise invalid()
    if HEX64_RE.match(name):
        # A bare 64-hex "name" is an image id, not a repository.
        raise invalid("cannot specify 64-byte hexadecimal strings as a repository name")
    return Reference(domain, path, tag, digest)


def _split_domain(name):
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        domain, path = first, rest
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    return domain, path


def normalize_tag(ref):
    """"busybox" -> "busybox:latest"; a digest reference keeps its digest."""
    return parse(ref).with_default_tag().familiar()


def display(ref):
    """How Docker names a reference in "No such image" errors (TagNameOnly + familiar)."""
    if ref.startswith("sha256:") or HEX64_RE.match(ref):
        return ref if ref.startswith("sha256:") else "sha256:" + ref
    try:
        return normalize_tag(ref)
    except errors.InvalidArgument:
        return ref


def is_id_prefix(image_id, ref):
    """True when ref names the image by (a prefix of) its id rather than by a repository tag."""
    hex_id = image_id.split(":", 1)[-1]
    ref = ref[len("sha256:"):] if ref.startswith("sha256:") else ref
    return bool(SHORT_ID_RE.match(ref)) and hex_id.startswith(ref)
