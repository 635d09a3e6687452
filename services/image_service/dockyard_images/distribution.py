"""What an image looks like in a registry: manifests, media types, and the metadata that ties
local layers (by diff id) to their distributed, compressed blobs.

Loaded, imported and committed layers are kept uncompressed, named by their diff id; a pulled
layer is kept only as its compressed blob as downloaded (images.open_layer gunzips it when save or
an unpack needs the tar), with the manifest bytes, so pushing the image back reproduces the very
same manifest digest. Tables (in image.db):

- layer_blobs: compressed blob digest -> diff id, media type, size (pulled, or gzip'd for a push).
- blob_repos: which registry repositories are known to hold a blob (cross-repository mount).
- image_manifests: manifest blobs (in the content store) describing a local image.
"""

import json

from dockyard_common import errors, platforms

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v1+prettyjws")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"

MANIFEST_TYPES = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEX_TYPES = (DOCKER_LIST, OCI_INDEX)
# What we ask for, best first (as dockerd's Accept list).
ACCEPT = (DOCKER_MANIFEST, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX)
MAX_MANIFEST = 4 * 1024 * 1024     # distribution's own limit on manifest bodies

SCHEMA = """
CREATE TABLE IF NOT EXISTS layer_blobs (
    digest     TEXT PRIMARY KEY,     -- the blob as distributed (usually gzip'd)
    diff_id    TEXT NOT NULL,        -- sha256 of the uncompressed tar
    media_type TEXT NOT NULL,
    size       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS layer_blobs_diff ON layer_blobs (diff_id);
CREATE TABLE IF NOT EXISTS blob_repos (
    digest TEXT NOT NULL,
    repo   TEXT NOT NULL,            -- "registry-host/path"
    PRIMARY KEY (digest, repo)
);
CREATE TABLE IF NOT EXISTS image_manifests (
    digest     TEXT PRIMARY KEY,     -- manifest blob, kept in the content store
    image_id   TEXT NOT NULL,
    media_type TEXT NOT NULL,
    added      INTEGER NOT NULL
);
"""


# ----------------------------------------------------------------------------------------------
# manifests
# ----------------------------------------------------------------------------------------------

def parse_json(body, what="manifest"):
    try:
        doc = json.loads(body)
    except ValueError:
        raise errors.Unavailable("registry sent an invalid %s (not JSON)" % what) from None
    if not isinstance(doc, dict):
        raise errors.Unavailable("registry sent an invalid %s" % what)
    return doc


def media_type_of(doc, header_type=""):
    """The manifest's media type: its own field, else the Content-Type, else guessed."""
    media = doc.get("mediaType") or (header_type or "").split(";")[0].strip()
    if media in MANIFEST_TYPES + INDEX_TYPES or media in DOCKER_SCHEMA1:
        return media
    if doc.get("schemaVersion") == 1:
        return DOCKER_SCHEMA1[0]
    if "manifests" in doc:
        return OCI_INDEX
    if "config" in doc and "layers" in doc:
        return OCI_MANIFEST
    return media


def parse_platform(specifier):
    """A pull's platform: the requested one (containerd's syntax and errors), or None for the
    host's."""
    return platforms.parse(specifier) if specifier else None


def select_platform(index, wanted):
    """The manifest list / OCI index entry to pull for `wanted` (a Platform; None: the host's),
    as dockerd's filterManifests: the best of containerd's Only ranking (arm64 falls back to
    arm/v8.., amd64 to 386); only image manifests count."""
    entries = [d for d in index.get("manifests") or []
               if isinstance(d, dict) and d.get("digest")
               and d.get("mediaType", DOCKER_MANIFEST) not in INDEX_TYPES]
    best = platforms.select(entries, wanted)
    if not best:
        raise errors.NotFound("no matching manifest for %s in the manifest list entries"
                              % platforms.format_platform(wanted or platforms.host()))
    return best[0]


def manifest_layers(doc):
    """(config descriptor, [layer descriptors]) of an image manifest, validated."""
    config = doc.get("config") or {}
    layers = doc.get("layers")
    if not isinstance(config, dict) or not config.get("digest") or not isinstance(layers, list):
        raise errors.Unavailable("registry sent an invalid image manifest")
    for layer in layers:
        if not isinstance(layer, dict) or not layer.get("digest"):
            raise errors.Unavailable("registry sent an invalid image manifest")
    return config, layers


def build_manifest(config_digest, config_size, layers):
    """A Docker v2 schema 2 manifest, byte for byte as dockerd writes it (3-space indent).
    layers: [(digest, size, media_type)]."""
    doc = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG, "size": config_size, "digest": config_digest},
        "layers": [{"mediaType": media, "size": size, "digest": digest}
                   for digest, size, media in layers],
    }
    return json.dumps(doc, indent=3).encode()


# ----------------------------------------------------------------------------------------------
# metadata
# ----------------------------------------------------------------------------------------------

class DistributionMetadata:
    def __init__(self, db):
        self.db = db
        with db.write_lock:
            db.conn().executescript(SCHEMA)

    # -- layer blobs ------------------------------------------------------------------------------
    def add_layer_blob(self, digest, diff_id, media_type, size):
        with self.db.tx() as conn:
            conn.execute("INSERT OR REPLACE INTO layer_blobs (digest, diff_id, media_type, size) "
                         "VALUES (?,?,?,?)", (digest, diff_id, media_type, size))

    def layer_blob(self, digest):
        row = self.db.one("SELECT * FROM layer_blobs WHERE digest = ?", (digest,))
        return dict(row) if row else None

    def blobs_for_diff(self, diff_id):
        return [dict(r) for r in self.db.query(
            "SELECT * FROM layer_blobs WHERE diff_id = ? ORDER BY rowid", (diff_id,))]

    def add_blob_repo(self, digest, repo):
        with self.db.tx() as conn:
            conn.execute("INSERT OR IGNORE INTO blob_repos (digest, repo) VALUES (?, ?)", (digest, repo))

    def blob_repos(self, digest):
        return [r["repo"] for r in self.db.query(
            "SELECT repo FROM blob_repos WHERE digest = ? ORDER BY rowid DESC", (digest,))]

    # -- manifests -------------------------------------------------------------------------------
    def add_manifest(self, digest, image_id, media_type, added):
        with self.db.tx() as conn:
            conn.execute("INSERT OR REPLACE INTO image_manifests (digest, image_id, media_type, added) "
                         "VALUES (?,?,?,?)", (digest, image_id, media_type, added))

    def manifests(self, image_id):
        """Manifests recorded for an image, newest first."""
        return [dict(r) for r in self.db.query(
            "SELECT * FROM image_manifests WHERE image_id = ? ORDER BY added DESC", (image_id,))]

    # -- garbage collection ------------------------------------------------------------------------
    def used_blobs(self, image_ids, diff_ids):
        """Blobs to keep for the live images: their manifests and their layers' compressed blobs."""
        keep = set()
        for row in self.db.query("SELECT digest, image_id FROM image_manifests"):
            if row["image_id"] in image_ids:
                keep.add(row["digest"])
        for row in self.db.query("SELECT digest, diff_id FROM layer_blobs"):
            if row["diff_id"] in diff_ids:
                keep.add(row["digest"])
        return keep

    def forget(self, image_ids, removed_blobs):
        """Drop records of deleted images and of blobs no longer in the content store."""
        with self.db.tx() as conn:
            for row in conn.execute("SELECT digest, image_id FROM image_manifests").fetchall():
                if row["image_id"] not in image_ids or row["digest"] in removed_blobs:
                    conn.execute("DELETE FROM image_manifests WHERE digest = ?", (row["digest"],))
            for digest in removed_blobs:
                conn.execute("DELETE FROM layer_blobs WHERE digest = ?", (digest,))
                conn.execute("DELETE FROM blob_repos WHERE digest = ?", (digest,))
