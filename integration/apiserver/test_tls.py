"""The TCP listener with TLS, as `dockerd --tlsverify`: the docker CLI with a client certificate
signed by our CA gets in; without one it does not."""

import os
import subprocess

import pytest

from dockyard_common.testing import free_port
from dockyard_common.testing.stack import TestStack


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=dockyard-test-ca",
            "-keyout", "ca-key.pem", "-out", "ca.pem", cwd=d)
    (d / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    (d / "client.cnf").write_text("extendedKeyUsage=clientAuth\n")
    for name, ext in (("server", "san.cnf"), ("client", "client.cnf")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name,
                "-keyout", name + "-key.pem", "-out", name + ".csr", cwd=d)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
                "-CAcreateserial", "-days", "1", "-extfile", ext, "-out", name + ".pem", cwd=d)
    return d


@pytest.fixture(scope="module")
def tls_stack(certs):
    port = free_port()
    env = {"DOCKYARD_API_TCP": "127.0.0.1:%d" % port,
           "DOCKYARD_TLS_CERT": str(certs / "server.pem"), "DOCKYARD_TLS_KEY": str(certs / "server-key.pem"),
           "DOCKYARD_TLS_CACERT": str(certs / "ca.pem")}
    with TestStack(extra_env=env) as stack:
        yield "tcp://127.0.0.1:%d" % port


def docker(host, certs, *args, client_cert=True, tmp_config):
    argv = ["docker", "-H", host, "--tlsverify", "--tlscacert", str(certs / "ca.pem")]
    if client_cert:
        argv += ["--tlscert", str(certs / "client.pem"), "--tlskey", str(certs / "client-key.pem")]
    env = dict(os.environ, DOCKER_CONFIG=str(tmp_config))
    env.pop("DOCKER_HOST", None)
    return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=60, env=env)


def test_cli_with_client_certificate_is_served(tls_stack, certs, tmp_path):
    r = docker(tls_stack, certs, "version", "--format", "{{.Server.APIVersion}}", tmp_config=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith("1.")


def test_cli_without_client_certificate_is_refused(tls_stack, certs, tmp_path):
    r = docker(tls_stack, certs, "version", "--format", "{{.Server.APIVersion}}", client_cert=False,
               tmp_config=tmp_path)
    assert r.returncode != 0
