"""HTTP endpoints of analytics (API.md "Analytics and valuation")."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, get
from litestar.params import QueryParameter

from app.analytics import prices
from app.analytics.schemas import Interval, PriceSeries

Text = Annotated[str | None, QueryParameter(min_length=1, max_length=100)]
YearParam = Annotated[int | None, QueryParameter(ge=1903, le=2100)]


class AnalyticsController(Controller):
    path = "/api/analytics"
    tags = ["analytics"]

    @get("/prices", summary="Price statistics of a type over time (from rollups; amounts converted)")
    async def price_series(
        self,
        manufacturer: Text = None,
        model: Text = None,
        year_min: Annotated[int | None, QueryParameter(name="yearMin", ge=1903, le=2100)] = None,
        year_max: Annotated[int | None, QueryParameter(name="yearMax", ge=1903, le=2100)] = None,
        interval: Annotated[Interval, QueryParameter()] = "month",
        start: Annotated[date | None, QueryParameter(name="from")] = None,
        end: Annotated[date | None, QueryParameter(name="to")] = None,
        currency: Annotated[str, QueryParameter(pattern=r"^[A-Z]{3}$")] = "USD",
    ) -> PriceSeries:
        return await prices.price_series(
            manufacturer=manufacturer,
            model=model,
            year_min=year_min,
            year_max=year_max,
            interval=interval,
            start=start,
            end=end,
            currency=currency,
        )
