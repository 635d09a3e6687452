import re

import pytest

from dockyard_common import errors
from dockyard_volumes import filters, names, options


@pytest.mark.parametrize("name", ["ab", "a1", "my-vol", "my_vol.v2", "A" * 200, "0.-_"])
def test_valid_names(name):
    names.validate(name)


def test_too_short_name_has_dockers_message():
    with pytest.raises(errors.InvalidArgument) as ei:
        names.validate("x")
    assert str(ei.value) == ("create x: volume name is too short, names should be at least two "
                             "alphanumeric characters")


@pytest.mark.parametrize("name", ["-ab", ".ab", "_ab", "a b", "a/b", "..", "a:b", "ab\n", "/abs"])
def test_invalid_characters_have_dockers_message(name):
    with pytest.raises(errors.InvalidArgument) as ei:
        names.validate(name)
    assert str(ei.value) == (
        'create %s: "%s" includes invalid characters for a local volume name, only '
        '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
        "use absolute path" % (name, name))


def test_generated_names_are_64_hex():
    a, b = names.generate(), names.generate()
    assert re.fullmatch(r"[0-9a-f]{64}", a) and a != b


def test_no_options_is_a_plain_directory():
    options.validate("v1", {})
    assert options.mount_spec({}) is None


def test_tmpfs_and_bind_options():
    opts = {"type": "tmpfs", "device": "tmpfs", "o": "size=1m,uid=1000"}
    options.validate("v1", opts)
    assert options.mount_spec(opts) == options.MountSpec("tmpfs", "tmpfs", "size=1m,uid=1000")
    bind = {"type": "none", "o": "bind", "device": "/srv/data"}
    options.validate("v1", bind)
    assert options.mount_spec(bind).device == "/srv/data"


def test_unknown_option_is_invalid():
    with pytest.raises(errors.InvalidArgument) as ei:
        options.validate("v1", {"colour": "blue"})
    assert str(ei.value) == 'create v1: invalid option: "colour"'


@pytest.mark.parametrize("opts,missing", [
    ({"type": "tmpfs"}, "device"),
    ({"device": "tmpfs"}, "type"),
    ({"o": "size=1m", "type": "tmpfs"}, "device"),
    ({"o": "bind", "device": "/x"}, "type"),
])
def test_required_options(opts, missing):
    with pytest.raises(errors.InvalidArgument) as ei:
        options.validate("v1", opts)
    assert str(ei.value) == 'create v1: missing required option: "%s"' % missing


def test_size_needs_quota_support():
    with pytest.raises(errors.InvalidArgument, match="no quota support"):
        options.validate("v1", {"size": "10m"})


def test_label_filters():
    labels = {"a": "1", "b": "2"}
    assert filters.LabelFilter({})(labels)
    assert filters.LabelFilter({"a": ""})(labels)
    assert filters.LabelFilter({"a": "1"})(labels)
    assert filters.LabelFilter({"a=1": ""})(labels)
    assert filters.LabelFilter({"a": "", "b": "2"})(labels)
    assert not filters.LabelFilter({"a": "2"})(labels)
    assert not filters.LabelFilter({"c": ""})(labels)
    assert not filters.LabelFilter({"a": "", "c": ""})(labels)
    assert not filters.LabelFilter({"!a": ""})(labels)
    assert filters.LabelFilter({"!a": "9"})(labels)
    assert not filters.LabelFilter({"!b=2": ""})(labels)
