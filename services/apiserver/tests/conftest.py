import pytest

from dockyard_apiserver.app import create_app

from fakes import FakeDaemon


@pytest.fixture
def daemon(request, tmp_path):
    """fakes.FakeDaemon, or the class a test module names in FAKE_DAEMON (container_fakes.Daemon
    for the richer container world), so modules share the app/client fixtures below."""
    return getattr(request.module, "FAKE_DAEMON", FakeDaemon)(str(tmp_path))


@pytest.fixture
def app(daemon):
    a = create_app(daemon)
    a.testing = True
    return a


@pytest.fixture
def client(app):
    return app.test_client()
