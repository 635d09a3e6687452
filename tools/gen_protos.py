"""Regenerate the gRPC stubs in libs/dockyard_api from protos/ (committed, never hand-edited).

    python tools/gen_protos.py          # write the stubs
    python tools/gen_protos.py --check  # exit 1 when the committed stubs differ from the protos
"""

import filecmp
import os
import pathlib
import shutil
import sys
import tempfile

from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = ROOT / "libs"


def generate(out_dir):
    files = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    args = ["protoc", "-I" + str(PROTOS), "-I" + include, "--python_out=" + str(out_dir),
            "--grpc_python_out=" + str(out_dir), "--pyi_out=" + str(out_dir)] + files
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    # Make every generated directory a regular package.
    for d in (pathlib.Path(out_dir) / "dockyard_api").rglob("*"):
        if d.is_dir():
            (d / "__init__.py").touch()
    (pathlib.Path(out_dir) / "dockyard_api" / "__init__.py").touch()


def generated_files(base):
    base = pathlib.Path(base) / "dockyard_api"
    return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def main():
    if "--check" in sys.argv:
        with tempfile.TemporaryDirectory() as tmp:
            generate(tmp)
            want, have = generated_files(tmp), generated_files(OUT)
            stale = [f for f in want if f not in have or not filecmp.cmp(
                os.path.join(tmp, "dockyard_api", f), OUT / "dockyard_api" / f, shallow=False)]
            extra = [f for f in have if f not in want]
            if stale or extra:
                print("stubs out of date with protos/: %s" % (stale + extra))
                return 1
            print("stubs are current")
            return 0
    shutil.rmtree(OUT / "dockyard_api", ignore_errors=True)
    generate(OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
