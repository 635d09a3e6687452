"""docker login: check credentials against a registry, as dockerd's registry.loginV2 does.

GET /v2/ answers 401 with a challenge; Bearer: a token is fetched from the realm with the
credentials (a 401/403 there means they are wrong); Basic: they go on the request. A final
GET /v2/ must then answer 200. Only push endpoints are used (never a mirror: credentials of the
upstream registry must not go to a mirror).
"""

import http
import urllib.parse

from dockyard_common import errors

from dockyard_common import reference
from .registry import RegistryClient, parse_auth

SUCCEEDED = "Login Succeeded"
_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")


def registry_domain(server_address):
    """The reference domain of docker login's serveraddress ("" or Docker Hub's index URL =
    docker.io); a scheme or path is ignored, as dockerd only keeps the host."""
    if not server_address:
        return reference.DEFAULT_DOMAIN
    url = server_address if "://" in server_address else "https://" + server_address
    host = urllib.parse.urlsplit(url).netloc
    if not host:
        raise errors.InvalidArgument("unable to parse server address: %s" % server_address)
    return reference.DEFAULT_DOMAIN if host in _HUB_HOSTS else host


def login(settings, auth_json, session=None):
    """(status, identity token) or FailedPrecondition with Docker's message."""
    auth = parse_auth(auth_json)
    domain = registry_domain(auth.get("serveraddress", ""))
    base = settings.endpoints(domain, push=True)[0]
    client = RegistryClient(base, auth, [], settings, session)
    try:
        client.ping()     # a Bearer challenge fetches the token here (wrong credentials raise)
        url = client.url("/v2/")
        resp = client.request("GET", url, retry_auth=False)
        with resp:
            if resp.status_code != 200:
                raise errors.FailedPrecondition("login attempt to %s failed with status: %d %s"
                                                % (url, resp.status_code, _status_text(resp)))
    finally:
        client.close()
    return SUCCEEDED, ""


def _status_text(resp):
    try:
        return http.HTTPStatus(resp.status_code).phrase     # Go's http.StatusText
    except ValueError:
        return resp.reason or ""
