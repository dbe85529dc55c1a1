from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from lanner import Depends, Lanner, Request


class Forecasts:
    """Calls a weather service over the network: tests replace it."""

    async def today(self, city: str) -> str:
        raise RuntimeError("no network in this example")


def get_forecasts() -> Forecasts:
    return Forecasts()


@asynccontextmanager
async def lifespan(app: Lanner) -> AsyncIterator[dict[str, Any]]:
    yield {"units": "celsius"}


app = Lanner(lifespan=lifespan)


@app.get("/weather/{city}")
async def weather(
    request: Request, city: str, forecasts: Annotated[Forecasts, Depends(get_forecasts)]
) -> dict[str, str]:
    forecast = await forecasts.today(city)
    return {"city": city, "forecast": forecast, "units": request.state.units}
