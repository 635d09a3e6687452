"""dockyard's apiserver: the Docker Engine API facade (dockerd's role)."""

API_VERSION = "1.45"       # the newest version we serve
MIN_API_VERSION = "1.24"   # oldest accepted in a /vX.Y prefix (as dockerd 25+)
DEFAULT_API_VERSION = API_VERSION
ENGINE_VERSION = "25.0.0-dockyard"
