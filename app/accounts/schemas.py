"""Wire shapes of accounts and auth (API.md "Auth")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from app.auth.passwords import common_passwords
from app.auth.scopes import Scope
from app.core.schema import Schema

Email = Annotated[str, Meta(min_length=3, max_length=255, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
NewPassword = Annotated[
    str,
    Meta(
        min_length=8,
        max_length=256,
        description="at least 8 characters and not a commonly used password",
    ),
]


def openapi_refinements() -> dict[tuple[str, str], dict]:
    """Rules msgspec cannot express in the generated schema: (component, property) -> JSON Schema keywords."""
    common = {"not": {"enum": sorted(common_passwords())}}
    return {("RegisterRequest", "password"): common, ("PasswordChange", "newPassword"): common}


AnyPassword = Annotated[str, Meta(min_length=1, max_length=256)]
Name = Annotated[str, Meta(max_length=100)]
TotpCode = Annotated[str, Meta(pattern=r"^[0-9]{6}$")]
SelfServiceType = Literal["buyer", "seller", "broker"]
UserType = Literal["buyer", "seller", "broker", "admin"]
UserStatus = Literal["pending", "active", "suspended"]


class RegisterRequest(Schema):
    email: Email
    password: NewPassword
    company_name: Annotated[str, Meta(min_length=1, max_length=255)]
    user_type: SelfServiceType
    first_name: Name = ""
    last_name: Name = ""
    phone: Annotated[str, Meta(max_length=32, pattern=r"^[0-9+() .-]*$")] = ""


class LoginRequest(Schema):
    email: Annotated[str, Meta(min_length=1, max_length=255)]
    password: AnyPassword
    totp: TotpCode | None = None


class RefreshRequest(Schema):
    refresh_token: Annotated[str, Meta(min_length=1, max_length=200)]


class UserRead(Schema):
    id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    company_name: str
    user_type: UserType
    verification_level: int
    status: UserStatus
    created_at: datetime
    totp_enabled: bool = False


class AuthResponse(Schema):
    user: UserRead
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int = 900


class TokenPair(Schema):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int = 900


class ProfileResponse(Schema):
    user: UserRead
    roles: list[str]
    permissions: list[str]


class TotpSetup(Schema):
    secret: str
    otpauth_uri: str


CurrentPassword = Annotated[
    AnyPassword,
    Meta(description="the account's password: needed when the log in is older than 10 minutes"),
]


class TotpCodeRequest(Schema):
    code: TotpCode
    current_password: CurrentPassword | None = None


class RecentPassword(Schema):
    current_password: CurrentPassword | None = None


class PasswordChange(Schema):
    current_password: AnyPassword
    new_password: NewPassword


class SessionRead(Schema):
    id: uuid.UUID
    device: str
    user_agent: str
    ip: str
    created_at: datetime
    last_seen_at: datetime
    current: bool = False


class ApiKeyCreate(Schema):
    name: Annotated[str, Meta(min_length=1, max_length=100)]
    scopes: (
        Annotated[
            list[Scope],
            Meta(max_length=6, description="what the key may do; `read` only when left out"),
        ]
        | None
    ) = None
    current_password: CurrentPassword | None = None


class ApiKeyRead(Schema):
    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    scopes: list[str] = msgspec.field(default_factory=lambda: ["read"])


class ApiKeyCreated(Schema):
    id: uuid.UUID
    name: str
    prefix: str
    key: str
    created_at: datetime
    scopes: list[str] = msgspec.field(default_factory=lambda: ["read"])


def user_read(row) -> UserRead:
    return UserRead(
        id=row["id"],
        email=row["email"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        company_name=row["company_name"],
        user_type=row["user_type"],
        verification_level=row["verification_level"],
        status=row["status"],
        created_at=row["created_at"],
        totp_enabled=row["totp_enabled"],
    )


class PublicProfile(Schema):
    """What anyone may read about a seller or broker: never their email, phone or account status."""

    id: uuid.UUID
    display_name: str
    company_name: str
    user_type: str
    verification_level: int
    member_since: datetime
    listings_count: int  # the inventory: listings for sale now (active, on hold, under contract)
