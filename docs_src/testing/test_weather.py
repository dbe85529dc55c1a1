from collections.abc import Iterator

import pytest
from weather import Forecasts, app, get_forecasts

from lanner.testing import TestClient


class SunnyForecasts(Forecasts):
    async def today(self, city: str) -> str:
        return "sunny"


@pytest.fixture
def client() -> Iterator[TestClient]:
    app.dependency_overrides[get_forecasts] = SunnyForecasts
    with TestClient(app) as client:  # `with` runs the lifespan's startup and shutdown
        yield client
    app.dependency_overrides.clear()


def test_weather(client: TestClient) -> None:
    response = client.get("/weather/Oslo")
    assert response.status_code == 200
    assert response.json() == {"city": "Oslo", "forecast": "sunny", "units": "celsius"}


def test_the_real_service_fails_loudly() -> None:
    # Without the override the handler raises, and the test sees the exception itself...
    with pytest.raises(RuntimeError, match="no network"):
        TestClient(app).get("/weather/Oslo")
    # ...unless it asks for the 500 the client would get.
    answer = TestClient(app, raise_server_exceptions=False).get("/weather/Oslo")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
