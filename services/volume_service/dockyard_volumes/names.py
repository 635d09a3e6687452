"""Volume names: Docker's local-driver rule and generated names for anonymous volumes."""

import re

from dockyard_common import errors, ids

# moby's names.RestrictedNamePattern; the local driver uses it for volume names.
RESTRICTED_NAME_CHARS = "[a-zA-Z0-9][a-zA-Z0-9_.-]"
_NAME_RE = re.compile(RESTRICTED_NAME_CHARS + "+")


def validate(name):
    """Raise InvalidArgument with Docker's wording when `name` is not a valid local volume name."""
    if len(name) == 1:
        raise errors.InvalidArgument(
            "create %s: volume name is too short, names should be at least two alphanumeric characters"
            % name)
    if not _NAME_RE.fullmatch(name):
        raise errors.InvalidArgument(
            'create %s: "%s" includes invalid characters for a local volume name, only "%s" are '
            "allowed. If you intended to pass a host directory, use absolute path"
            % (name, name, RESTRICTED_NAME_CHARS))


def generate():
    """A new anonymous volume name: 64 hex digits, as Docker's stringid.GenerateRandomID."""
    return ids.new_id()
