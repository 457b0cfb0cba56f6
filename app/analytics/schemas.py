"""Wire shapes of analytics (API.md "Analytics and valuation"): price series, valuations, risk flags."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from msgspec import Meta

from app.core.schema import Money, Schema
from app.listings.schemas import Hours, Manufacturer, Model, Specifications, Year

Interval = Literal["month", "quarter"]
Currency = Annotated[str, Meta(pattern=r"^[A-Z]{3}$")]
Severity = Literal["low", "medium", "high"]
RiskCode = Literal[
    "price_below_market",
    "price_raised_under_contract",
    "broker_buyer_concentration",
    "registry_mismatch",
    "deregistered",
    "sanctions_hit",
    "stale_listing",
]


class PricePeriod(Schema):
    period: date
    listings: int
    sales: int
    median: Money
    p25: Money
    p75: Money
    min: Money
    max: Money


class PriceSeries(Schema):
    currency: str
    series: list[PricePeriod]


class Amount(Schema):
    amount: Money
    currency: str


class Comparable(Schema):
    listing_id: uuid.UUID
    manufacturer: str
    model: str
    year_manufactured: int
    hours_total: int
    price: Amount
    status: str
    similarity: Annotated[float, Meta(ge=0, le=1)]


class Valuation(Schema):
    estimate: Amount
    low: Money
    high: Money
    confidence: Annotated[float, Meta(ge=0, le=1)]
    model_version: str
    trained_at: datetime | None
    comparables: list[Comparable]
    method: Literal["model", "comparables", "none"] = "model"
    matched_type: str | None = None


class EstimateRequest(Schema):
    manufacturer: Manufacturer
    model: Model
    year_manufactured: Year
    hours_total: Hours
    specifications: Specifications | None = None
    location_country: Annotated[str, Meta(pattern=r"^[A-Z]{2}$")] | None = None
    currency: Currency = "USD"


class RiskFlagRead(Schema):
    code: RiskCode
    severity: Severity
    detail: str
    evidence: dict[str, Any]
    raised_at: datetime


class RiskFlags(Schema):
    flags: list[RiskFlagRead]


class FlaggedListing(Schema):
    listing_id: uuid.UUID
    manufacturer: str
    model: str
    year_manufactured: int
    status: str
    seller_id: uuid.UUID
    flags: list[RiskFlagRead]
