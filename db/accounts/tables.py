"""Accounts: users, companies, RBAC, refresh tokens, API keys."""

from piccolo.columns import (
    UUID,
    Array,
    Boolean,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.defaults.uuid import UUID4
from piccolo.table import Table


class Company(Table, tablename="companies"):
    id = UUID(primary_key=True, default=UUID4())
    name = Varchar(length=255)
    created_at = Timestamptz(default=TimestamptzNow())


class User(Table, tablename="users"):
    id = UUID(primary_key=True, default=UUID4())
    email = Varchar(length=255, unique=True)
    password_hash = Varchar(length=255)
    first_name = Varchar(length=100, default="")
    last_name = Varchar(length=100, default="")
    company_name = Varchar(length=255, default="")
    company = ForeignKey(references=Company, null=True, default=None)
    phone = Varchar(length=32, default="")
    status = Varchar(length=20, default="active")
    user_type = Varchar(length=20)
    verification_level = Integer(default=0)
    totp_secret = Text(null=True, default=None)  # sealed: app/core/crypto.py
    totp_enabled = Boolean(default=False)
    totp_last_step = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    last_login = Timestamptz(null=True, default=None)


class Role(Table, tablename="roles"):
    id = Serial(primary_key=True)
    name = Varchar(length=50, unique=True)
    description = Text(default="")


class Permission(Table, tablename="permissions"):
    id = Serial(primary_key=True)
    name = Varchar(length=100, unique=True)
    resource = Varchar(length=50)
    action = Varchar(length=50)


class RolePermission(Table, tablename="role_permissions"):
    id = Serial(primary_key=True)
    role = ForeignKey(references=Role)
    permission = ForeignKey(references=Permission)


class UserRole(Table, tablename="user_roles"):
    id = Serial(primary_key=True)
    user = ForeignKey(references=User)
    role = ForeignKey(references=Role)


class RefreshToken(Table, tablename="refresh_tokens"):
    """One issued refresh token; only its SHA-256 is stored. A family shares one login."""

    id = UUID(primary_key=True, default=UUID4())
    user = ForeignKey(references=User)
    family_id = UUID(index=True)
    token_hash = Varchar(length=64, unique=True)
    expires_at = Timestamptz()
    family_expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class ApiKey(Table, tablename="api_keys"):
    """A bot's API key; only its SHA-256 is stored, the prefix identifies it in lists."""

    id = UUID(primary_key=True, default=UUID4())
    user = ForeignKey(references=User)
    name = Varchar(length=100)
    prefix = Varchar(length=16)
    key_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz(default=TimestamptzNow())
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)
    scopes = Array(base_column=Text(), default=["read"])


class AuthSession(Table, tablename="auth_sessions"):
    """A login a person can see and end: one refresh-token family (`id` = its family_id)."""

    id = UUID(primary_key=True)
    user = ForeignKey(references=User)
    user_agent = Varchar(length=512, default="")
    ip = Varchar(length=64, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    last_seen_at = Timestamptz(default=TimestamptzNow())
    auth_time = Timestamptz(default=TimestamptzNow())  # when the password was last entered for it
    expires_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
