"""ARCHITECTURE.md section 3: who may call whom. Each service imports only the stubs it may use
and never another service's package."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

PACKAGES = {
    "dockyard_images": "services/image_service/dockyard_images",
    "dockyard_volumes": "services/volume_service/dockyard_volumes",
    "dockyard_networks": "services/network_service/dockyard_networks",
    "dockyard_shim": "services/shim_runner/dockyard_shim",
    "dockyard_containers": "services/container_service/dockyard_containers",
    "dockyard_apiserver": "services/apiserver/dockyard_apiserver",
}

# The API areas each service may import: its own (to serve it) plus those it may call.
ALLOWED_AREAS = {
    "dockyard_images": {"images", "snapshots", "types"},
    "dockyard_volumes": {"volumes", "types"},
    "dockyard_networks": {"networks", "types"},
    "dockyard_shim": {"shim", "types"},
    "dockyard_containers": {"containers", "tasks", "shim", "types"},
    "dockyard_apiserver": {"images", "snapshots", "containers", "tasks", "shim", "networks",
                           "volumes", "types"},
}


def imported_modules(package_dir):
    for path in (ROOT / package_dir).rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield path, alias.name
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield path, node.module
                for alias in node.names:
                    yield path, node.module + "." + alias.name


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_service_imports_only_allowed_stubs(package):
    bad = []
    for path, module in imported_modules(PACKAGES[package]):
        parts = module.split(".")
        if parts[0] == "dockyard_api" and len(parts) > 1 and parts[1] not in ALLOWED_AREAS[package]:
            bad.append("%s imports %s" % (path.relative_to(ROOT), module))
        if parts[0] in PACKAGES and parts[0] != package:
            bad.append("%s imports another service: %s" % (path.relative_to(ROOT), module))
    assert not bad, "\n".join(bad)
