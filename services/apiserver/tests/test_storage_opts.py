import pytest

from dockyard_apiserver.backend import container_config as cc
from dockyard_apiserver.backend import storage_opts
from dockyard_common import errors

QUOTA = "--storage-opt is supported only for overlay over xfs with 'pquota' mount option"


@pytest.mark.parametrize("opts", [None, {}])
def test_nothing_asked(opts):
    storage_opts.validate({"StorageOpt": opts})
    cc.validate_host_config({"StorageOpt": opts})


@pytest.mark.parametrize("opts,message", [
    ({"size": "10m"}, QUOTA),
    ({"size": "abc"}, QUOTA),             # refused before the value is parsed, as overlay2
    ({"size": "1", "Foo": "bar"}, QUOTA),
    ({"Foo": "bar"}, "Unknown option foo"),
    ({"SIZE": "10m"}, QUOTA),
])
def test_refused(opts, message):
    with pytest.raises(errors.InvalidArgument) as ei:
        cc.validate_host_config({"StorageOpt": opts})
    assert str(ei.value) == message
