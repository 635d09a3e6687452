"""An image's VOLUME keeps its data when compose recreates the container: docker-compose finds
the image's volumes in its ContainerConfig and hands the old container's anonymous volume to the
new one (the builder records ContainerConfig as Docker's classic builder does)."""

DOCKERFILE = """\
FROM busybox
VOLUME /data
CMD ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
"""

COMPOSE = """\
version: "3"
services:
  app:
    build: ./app
    environment: ["GENERATION=${GENERATION:-1}"]
"""


def test_recreate_keeps_the_image_volume(make_project):
    p = make_project({"docker-compose.yml": COMPOSE, "app/Dockerfile": DOCKERFILE})
    p("up", "-d")
    p("exec", "-T", "app", "sh", "-c", "echo kept > /data/f")
    old = p.container("app")
    volume = [m["Name"] for m in old.attrs["Mounts"] if m["Destination"] == "/data"]
    image = p.stack.client.images.get(old.image.id)
    assert image.attrs["ContainerConfig"]["Volumes"] == {"/data": {}}
    # a changed environment makes compose recreate the container
    p.env["GENERATION"] = "2"
    r = p("up", "-d")
    assert "Recreating %s_app_1" % p.name in r.stderr
    new = p.container("app")
    assert new.id != old.id
    assert [m["Name"] for m in new.attrs["Mounts"] if m["Destination"] == "/data"] == volume
    assert p.out("exec", "-T", "app", "cat", "/data/f") == "kept\n"
    assert p.down() == {"containers": [], "networks": [], "volumes": [], "images": []}
