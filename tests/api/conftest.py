import pytest

from tests.api.server import Server

LIMITS = {"SALESCAST_API_MAX_BODY_MB": "1", "SALESCAST_API_MAX_SERIES": "40", "SALESCAST_API_MAX_POINTS": "20000",
          "SALESCAST_API_MAX_HORIZON": "60", "SALESCAST_API_MAX_WINDOWS": "12"}
TOKENS = ("s3cret-token", "second-token")


@pytest.fixture(scope="package")
def server(tmp_path_factory):
    """No tokens, asked to listen on every address: the service must keep to 127.0.0.1. One worker, so
    queueing and cancellation are visible. Its workspace folder starts empty (``server.workspace``)."""
    ws = tmp_path_factory.mktemp("workspace")
    srv = Server(env=LIMITS, args=("--host", "0.0.0.0", "--workspace", str(ws)), workers=1)
    srv.workspace = ws
    yield srv
    srv.stop()


@pytest.fixture(scope="package")
def auth_server():
    srv = Server(env={"SALESCAST_API_TOKENS": ",".join(TOKENS)}, workers=1)
    yield srv
    srv.stop()
