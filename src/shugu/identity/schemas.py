"""API shapes of the identity domain."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shugu.api.limits import NAME_MAX, PASSWORD_MAX

Role = Literal["provider", "consumer", "operator", "auditor", "broker"]


class OrganizationIn(BaseModel):
    uscc: str = Field(max_length=18, description="统一社会信用代码, 18 characters (GB 32100)")
    name: str = Field(min_length=1, max_length=200)
    name_en: str | None = Field(default=None, max_length=200)
    roles: list[Role] = Field(min_length=1)
    admin_username: str = Field(min_length=3, max_length=80, pattern=r"^[A-Za-z0-9_.@-]+$")
    admin_password: str | None = Field(
        default=None, min_length=8, max_length=PASSWORD_MAX,
        description="omit to generate one (returned once)"
    )


class OrganizationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    uscc: str
    name: str
    name_en: str | None
    roles: list[str]
    is_platform: bool
    created_at: datetime


class OrganizationRolesIn(BaseModel):
    roles: list[Role] = Field(min_length=1)


class UserIn(BaseModel):
    username: str = Field(min_length=3, max_length=80, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str | None = Field(default=None, min_length=8, max_length=PASSWORD_MAX)
    display_name: str | None = Field(default=None, max_length=NAME_MAX)
    is_admin: bool = False


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    username: str
    display_name: str | None
    is_admin: bool
    is_active: bool
    created_at: datetime


class PasswordIn(BaseModel):
    password: str | None = Field(default=None, min_length=8, max_length=PASSWORD_MAX,
                                 description="leave out to have one generated")


class PasswordChangeIn(BaseModel):
    current_password: str = Field(max_length=PASSWORD_MAX)
    new_password: str = Field(min_length=8, max_length=PASSWORD_MAX)


class PasswordSet(BaseModel):
    password: str | None = Field(description="the generated password, shown only this once")


class UserCreated(BaseModel):
    user: UserOut
    password: str | None = Field(description="the generated password, shown only this once")


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    key_id: str
    name: str
    scope: str
    user_id: int
    org_id: int
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(BaseModel):
    token: TokenOut
    secret: str = Field(description="the bearer token, shown only this once")


class OrganizationCreated(BaseModel):
    organization: OrganizationOut
    admin: UserOut
    admin_password: str | None = Field(description="generated password, shown only once")
    token: TokenCreated


class LoginIn(BaseModel):
    username: str = Field(max_length=NAME_MAX)
    password: str = Field(max_length=PASSWORD_MAX)


class Me(BaseModel):
    user: UserOut
    organization: OrganizationOut
