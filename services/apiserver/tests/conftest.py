import pytest

from dockyard_apiserver.app import create_app

from fakes import FakeDaemon


@pytest.fixture
def daemon(tmp_path):
    return FakeDaemon(str(tmp_path))


@pytest.fixture
def app(daemon):
    a = create_app(daemon)
    a.testing = True
    return a


@pytest.fixture
def client(app):
    return app.test_client()
