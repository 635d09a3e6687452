"""The committed stubs in libs/dockyard_api match protos/ (run `make protos` after editing a proto)."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_generated_stubs_are_current():
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_protos.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_proto_has_a_versioned_package():
    for proto in (ROOT / "protos" / "dockyard_api").rglob("*.proto"):
        area = proto.parent.parent.name
        text = proto.read_text()
        assert "package dockyard_api.%s.v1;" % area in text, proto
        assert proto.parent.name == "v1", proto
