import json
import secrets

from dockyard_api.containers.v1 import containers_pb2
from dockyard_api.types.v1 import types_pb2


def new_id():
    return secrets.token_hex(32)


def record(cid=None, name="", cmd=("true",), tty=False, **kw):
    cid = cid or new_id()
    config = {"Cmd": list(cmd), "Tty": tty, "OpenStdin": kw.pop("open_stdin", False)}
    return containers_pb2.Container(
        id=cid, name=name, image="busybox", image_id="sha256:" + "0" * 64,
        config_json=json.dumps(config).encode(), host_config_json=b"{}",
        spec_json=b'{"ociVersion": "1.0.2"}',
        rootfs=[types_pb2.Mount(type="bind", source="/tmp/rootfs", options=["rbind"])], **kw)
