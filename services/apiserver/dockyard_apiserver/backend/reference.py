"""Docker image references (distribution/reference): parse, validate, normalize to the
familiar form the image store uses ("busybox:latest", "example.com:5000/a/b:tag")."""

import re
from dataclasses import dataclass

from dockyard_common import errors
from dockyard_common import reference as shared

_ID_LIKE = re.compile(r"^(?:sha256:)?[a-f0-9]{1,64}$")


@dataclass(frozen=True)
class Reference:
    name: str        # familiar repository name: "busybox", "conformance/x", "host:5000/a"
    tag: str = ""
    digest: str = ""

    @property
    def full_name(self):
        """Fully qualified repository name: docker.io/library/busybox."""
        return shared.parse(self.name).name

    def with_default_tag(self):
        if self.tag or self.digest:
            return self
        return Reference(self.name, shared.DEFAULT_TAG, "")

    def __str__(self):
        s = self.name
        if self.tag:
            s += ":" + self.tag
        if self.digest:
            s += "@" + self.digest
        return s


def parse(text):
    """Parse a reference as ParseNormalizedNamed does (the grammar lives in
    dockyard_common.reference); raises InvalidArgument (400)."""
    ref = shared.parse(text)
    return Reference(ref.familiar_name, ref.tag, ref.digest)


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


is_id_prefix = shared.is_id_prefix  # moby's isImageIDPrefix


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
