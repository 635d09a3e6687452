"""A Docker Registry HTTP API v2 client: endpoints, the auth challenge, errors in Docker's words.

Endpoints: "docker.io" goes to DOCKYARD_DEFAULT_REGISTRY (registry-1.docker.io), after the pull
mirrors of DOCKYARD_REGISTRY_MIRRORS. Plain HTTP for 127.0.0.0/8, ::1, localhost and the hosts or
CIDRs of DOCKYARD_INSECURE_REGISTRIES (as dockerd's default insecure 127.0.0.0/8); HTTPS otherwise.

Auth: `GET /v2/` first (as dockerd does); a 401 carries the challenge. Bearer: a token for the
scopes this client needs, from the realm (anonymous, Basic credentials, an identity token as a
refresh token, or a registry token used as is). Basic: the credentials on every request.
"""

import base64
import ipaddress
import json
import logging
import os
import re
import urllib.parse
from dataclasses import dataclass, field

from dockyard_common import errors

from dockyard_common import reference

log = logging.getLogger(__name__)

DEFAULT_REGISTRY = "registry-1.docker.io"
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 60.0
USER_AGENT = "dockyard (docker-compatible)"
MAX_TAGS_PAGE = 16 * 1024 * 1024     # bytes of one tags/list answer
_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*"([^"]*)"')


# ----------------------------------------------------------------------------------------------
# settings and endpoints
# ----------------------------------------------------------------------------------------------

def _split_list(value):
    return [v.strip() for v in (value or "").replace(";", ",").split(",") if v.strip()]


@dataclass
class RegistrySettings:
    default_registry: str = DEFAULT_REGISTRY
    mirrors: list = field(default_factory=list)      # URLs or host[:port], docker.io pulls only
    insecure: list = field(default_factory=list)     # host[:port] or CIDR
    connect_timeout: float = CONNECT_TIMEOUT
    read_timeout: float = READ_TIMEOUT

    @classmethod
    def from_env(cls, env=None):
        env = os.environ if env is None else env
        return cls(default_registry=env.get("DOCKYARD_DEFAULT_REGISTRY") or DEFAULT_REGISTRY,
                   mirrors=_split_list(env.get("DOCKYARD_REGISTRY_MIRRORS")),
                   insecure=_split_list(env.get("DOCKYARD_INSECURE_REGISTRIES")))

    def is_insecure(self, hostport):
        host = _host_of(hostport)
        if host == "localhost":
            return True
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if ip is not None and ip.is_loopback:
            return True
        for entry in self.insecure:
            if entry in (hostport, host):
                return True
            if ip is not None and "/" in entry:
                try:
                    if ip in ipaddress.ip_network(entry, strict=False):
                        return True
                except ValueError:
                    continue
        return False

    def base_url(self, hostport):
        if "://" in hostport:
            return hostport.rstrip("/")
        return ("http://" if self.is_insecure(hostport) else "https://") + hostport

    def endpoints(self, domain, push=False):
        """Base URLs to try, in order, for a reference's domain."""
        if domain != reference.DEFAULT_DOMAIN:
            return [self.base_url(domain)]
        urls = [] if push else [self.base_url(m) for m in self.mirrors]
        return urls + [self.base_url(self.default_registry)]


def _host_of(hostport):
    if hostport.startswith("["):
        return hostport[1:].split("]", 1)[0]
    if hostport.count(":") == 1:
        return hostport.split(":", 1)[0]
    return hostport


def parse_auth(auth_json):
    """The decoded X-Registry-Auth: {username, password, serveraddress, identitytoken,
    registrytoken}. Docker sends "{}" or nothing for anonymous access."""
    if not auth_json:
        return {}
    try:
        auth = json.loads(auth_json)
    except ValueError:
        raise errors.InvalidArgument("invalid X-Registry-Auth: not JSON") from None
    if not isinstance(auth, dict):
        raise errors.InvalidArgument("invalid X-Registry-Auth")
    return {k.lower(): v for k, v in auth.items() if isinstance(v, str) and v}


# ----------------------------------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------------------------------

class RegistryError(errors.DockyardError):
    """An error answer of the registry, in distribution's errcode form."""

    def __init__(self, status, code, message, detail=None):
        self.status = status
        self.code_name = code
        self.registry_message = message
        self.detail = detail
        super().__init__("%s: %s" % (code.lower().replace("_", " "), message) if code
                         else "unexpected HTTP status %d" % status)


def registry_error(resp):
    """RegistryError from a response: its first errcode entry, else the HTTP status."""
    code, message, detail = "", "", None
    try:
        body = resp.content[:64 * 1024]
        doc = json.loads(body) if body else {}
        first = (doc.get("errors") or [{}])[0]
        code, message, detail = first.get("code", ""), first.get("message", ""), first.get("detail")
    except (ValueError, AttributeError, TypeError, IndexError):
        pass
    if not code:
        if resp.status_code == 401:
            code, message = "UNAUTHORIZED", "authentication required"
        elif resp.status_code == 403:
            code, message = "DENIED", "requested access to the resource is denied"
    return RegistryError(resp.status_code, code, message, detail)


def connection_error(method, url, exc):
    """Docker's wording for a registry it cannot reach: Get "URL": dial tcp HOST: ..."""
    host = urllib.parse.urlsplit(url).netloc
    text = str(exc)
    cause = exc
    while cause is not None and not isinstance(cause, ConnectionRefusedError):
        cause = cause.__cause__ or cause.__context__
    if cause is not None or "Connection refused" in text:
        reason = "dial tcp %s: connect: connection refused" % host
    elif isinstance(exc, _requests().Timeout):
        reason = "dial tcp %s: i/o timeout" % host
    elif "Name or service not known" in text or "Temporary failure in name resolution" in text:
        reason = "dial tcp: lookup %s: no such host" % _host_of(host)
    else:
        reason = text
    return errors.Unavailable('%s "%s": %s' % (method.capitalize(), url, reason))


def _requests():
    """requests (with urllib3, http.client, email, idna...) costs ~8 MiB of RSS: imported on
    the first registry operation, not kept by an image-service that never talks to a registry."""
    import requests
    return requests


# ----------------------------------------------------------------------------------------------
# the client
# ----------------------------------------------------------------------------------------------

class RegistryClient:
    """One registry endpoint, for the scopes one pull or push needs."""

    def __init__(self, base_url, auth=None, scopes=(), settings=None, session=None):
        self.base_url = base_url.rstrip("/")
        self.auth = auth or {}
        self.scopes = list(scopes)
        self.settings = settings or RegistrySettings()
        self.session = session or _requests().Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.authorization = ""
        self.challenge = None
        self.timeout = (self.settings.connect_timeout, self.settings.read_timeout)

    @property
    def host(self):
        return urllib.parse.urlsplit(self.base_url).netloc

    def close(self):
        self.session.close()

    def url(self, path):
        return self.base_url + path

    # -- transport ---------------------------------------------------------------------------------
    def _send(self, method, url, headers=None, **kwargs):
        headers = dict(headers or {})
        if self.authorization and "Authorization" not in headers and self._same_host(url):
            headers["Authorization"] = self.authorization
        kwargs.setdefault("timeout", self.timeout)
        try:
            return self.session.request(method, url, headers=headers, **kwargs)
        except _requests().RequestException as exc:
            raise connection_error(method, url, exc) from None

    def _same_host(self, url):
        return urllib.parse.urlsplit(url).netloc == self.host

    def request(self, method, path_or_url, headers=None, retry_auth=True, **kwargs):
        """A request with our authorization; one retry after re-authenticating on a 401
        (an expired token) unless the body is a stream that cannot be sent twice."""
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        resp = self._send(method, url, headers, **kwargs)
        if resp.status_code == 401 and retry_auth:
            challenge = parse_challenge(resp.headers.get("WWW-Authenticate", "")) or self.challenge
            if challenge is not None:
                resp.close()
                self._authenticate(challenge)
                resp = self._send(method, url, headers, **kwargs)
        return resp

    # -- auth ----------------------------------------------------------------------------------------
    def ping(self):
        """GET /v2/: checks the registry answers and learns how to authenticate."""
        resp = self._send("GET", self.url("/v2/"))
        with resp:
            if resp.status_code == 401:
                challenge = parse_challenge(resp.headers.get("WWW-Authenticate", ""))
                if challenge is None:
                    raise errors.Unavailable("registry %s asks for an unsupported authentication"
                                             % self.host)
                self._authenticate(challenge)
            elif resp.status_code >= 500:
                raise errors.Unavailable('Get "%s": received unexpected HTTP status: %d %s'
                                         % (self.url("/v2/"), resp.status_code, resp.reason))

    def _authenticate(self, challenge):
        self.challenge = challenge
        scheme, params = challenge
        if scheme == "basic":
            user, password = self.auth.get("username", ""), self.auth.get("password", "")
            if user or password:
                self.authorization = "Basic " + base64.b64encode(
                    ("%s:%s" % (user, password)).encode()).decode()
            return
        if self.auth.get("registrytoken"):
            self.authorization = "Bearer " + self.auth["registrytoken"]
            return
        self.authorization = "Bearer " + self._fetch_token(params)

    def _fetch_token(self, params):
        realm = params.get("realm")
        if not realm:
            raise errors.Unavailable("registry %s sent a bearer challenge without realm" % self.host)
        scopes = list(self.scopes)
        if params.get("scope") and params["scope"] not in scopes:
            scopes.append(params["scope"])
        service = params.get("service", "")
        try:
            if self.auth.get("identitytoken"):
                # An identity token is an OAuth2 refresh token (docker login's).
                resp = self.session.post(realm, timeout=self.timeout, data={
                    "grant_type": "refresh_token", "refresh_token": self.auth["identitytoken"],
                    "service": service, "scope": " ".join(scopes), "client_id": "docker"})
            else:
                basic = None
                if self.auth.get("username") or self.auth.get("password"):
                    basic = (self.auth.get("username", ""), self.auth.get("password", ""))
                query = [("service", service)] if service else []
                query += [("scope", s) for s in scopes]
                if basic:
                    query.append(("account", basic[0]))
                resp = self.session.get(realm, params=query, auth=basic, timeout=self.timeout)
        except _requests().RequestException as exc:
            raise connection_error("GET", realm, exc) from None
        with resp:
            if resp.status_code in (401, 403):
                raise errors.FailedPrecondition(
                    'Get "%s": unauthorized: incorrect username or password' % self.url("/v2/"))
            if resp.status_code != 200:
                raise errors.Unavailable("token request to %s failed: HTTP %d"
                                         % (realm, resp.status_code))
            try:
                doc = resp.json()
            except ValueError:
                raise errors.Unavailable("token server %s sent an invalid answer" % realm) from None
        token = doc.get("token") or doc.get("access_token")
        if not token:
            raise errors.Unavailable("token server %s sent no token" % realm)
        return token

    # -- API calls -----------------------------------------------------------------------------------
    def get_manifest(self, path, ref, accept):
        """(status-checked response, body bytes) of GET /v2/<path>/manifests/<ref>."""
        resp = self.request("GET", "/v2/%s/manifests/%s" % (path, ref),
                            headers={"Accept": ", ".join(accept)}, stream=True)
        with resp:
            if resp.status_code != 200:
                raise registry_error(resp)
            body = resp.raw.read(4 * 1024 * 1024 + 1, decode_content=True)
        if len(body) > 4 * 1024 * 1024:
            raise errors.Unavailable("manifest %s is too large" % ref)
        return resp, body

    def list_tags(self, path, max_pages=1000):
        """Every tag of GET /v2/<path>/tags/list, in the registry's order, following the
        Link: <...>; rel="next" pages (as distribution's client does)."""
        url, tags = self.url("/v2/%s/tags/list" % path), []
        for _ in range(max_pages):
            resp = self.request("GET", url, stream=True)
            with resp:
                if resp.status_code != 200:
                    raise registry_error(resp)
                body = resp.raw.read(MAX_TAGS_PAGE + 1, decode_content=True)
                link = resp.headers.get("Link", "")
            if len(body) > MAX_TAGS_PAGE:
                raise errors.Unavailable("tag list of %s is too large" % path)
            try:
                page = json.loads(body).get("tags") or []
            except (ValueError, AttributeError):
                raise errors.Unavailable("registry sent an invalid tag list for %s" % path) from None
            tags += [t for t in page if isinstance(t, str)]
            next_url = _next_link(link)
            if not next_url:
                return tags
            url = urllib.parse.urljoin(url, next_url)
        raise errors.Unavailable("tag list of %s has more than %d pages" % (path, max_pages))

    def get_blob(self, path, digest):
        """A streaming response for the blob (caller closes it)."""
        resp = self.request("GET", "/v2/%s/blobs/%s" % (path, digest), stream=True)
        if resp.status_code != 200:
            with resp:
                raise registry_error(resp)
        return resp

    def blob_exists(self, path, digest):
        resp = self.request("HEAD", "/v2/%s/blobs/%s" % (path, digest))
        with resp:
            if resp.status_code == 200:
                return True
            if resp.status_code == 404:
                return False
            raise registry_error(resp)

    def start_upload(self, path, mount=None, mount_from=None):
        """POST /blobs/uploads/: ("mounted", None) after a successful cross-repository mount,
        else ("upload", location URL)."""
        query = ""
        if mount and mount_from:
            query = "?" + urllib.parse.urlencode({"mount": mount, "from": mount_from})
        resp = self.request("POST", "/v2/%s/blobs/uploads/%s" % (path, query),
                            headers={"Content-Length": "0"})
        with resp:
            if resp.status_code == 201 and mount:
                return "mounted", None
            if resp.status_code != 202:
                raise registry_error(resp)
            return "upload", self._location(resp)

    def _location(self, resp):
        location = resp.headers.get("Location")
        if not location:
            raise errors.Unavailable("registry %s gave no upload location" % self.host)
        return urllib.parse.urljoin(self.base_url + "/", location)

    def upload(self, location, chunks):
        """PATCH the data (streamed, chunked), then PUT ?digest= to commit; returns the digest
        the registry reports."""
        resp = self.request("PATCH", location, retry_auth=False, data=chunks,
                            headers={"Content-Type": "application/octet-stream"})
        with resp:
            if resp.status_code not in (202, 204):
                raise registry_error(resp)
            location = self._location(resp)
        return location

    def commit_upload(self, location, digest):
        parts = urllib.parse.urlsplit(location)
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True) + [("digest", digest)]
        url = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
        resp = self.request("PUT", url, headers={"Content-Length": "0"})
        with resp:
            if resp.status_code not in (201, 204):
                raise registry_error(resp)

    def put_manifest(self, path, ref, body, media_type):
        resp = self.request("PUT", "/v2/%s/manifests/%s" % (path, ref), data=body,
                            headers={"Content-Type": media_type})
        with resp:
            if resp.status_code not in (200, 201, 202):
                raise registry_error(resp)
            return resp.headers.get("Docker-Content-Digest", "")


def _next_link(header):
    """The target of a Link header's rel="next" entry, or ""."""
    for part in header.split(","):
        target, _, params = part.partition(";")
        if re.search(r'rel="?next"?', params):
            return target.strip().strip("<>")
    return ""


def parse_challenge(header):
    """("bearer"|"basic", {params}) from a WWW-Authenticate header, or None."""
    if not header:
        return None
    scheme, _, rest = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme not in ("bearer", "basic"):
        return None
    return scheme, {k.lower(): v for k, v in _CHALLENGE_PARAM.findall(rest)}


def scope(path, actions):
    return "repository:%s:%s" % (path, actions)
