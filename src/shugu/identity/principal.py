"""Who is calling: the authenticated user, their organisation and its roles."""

from __future__ import annotations

from dataclasses import dataclass

from shugu.errors import Forbidden


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    org_id: int
    org_roles: tuple[str, ...]
    is_admin: bool
    is_platform: bool
    token_id: int | None = None
    # "api" for the whole API, "sharing" for a Delta Sharing profile's token.
    scope: str = "api"

    @property
    def actor(self) -> str:
        return f"user:{self.username}"

    @property
    def is_anonymous(self) -> bool:
        return self.scope == "public"

    @property
    def is_operator(self) -> bool:
        return self.is_platform or "operator" in self.org_roles

    @property
    def is_overseer(self) -> bool:
        """Operators and auditors: they read every trade record, as no party to it."""
        return self.is_operator or "auditor" in self.org_roles

    def require_role(self, role: str) -> None:
        if role not in self.org_roles:
            raise Forbidden(
                f"organisation does not hold the {role} role", code="role_required", role=role
            )

    def require_operator(self) -> None:
        if not self.is_operator:
            raise Forbidden("only the platform operator may do this", code="operator_required")


SYSTEM_ACTOR = "system"

# A visitor without a token, on the read routes of what is public (listed products, their
# offers and quality reports, certificate status, public notices). Organisation ids start
# at 1, so every "is it mine?" check is false and visibility rules leave only the public.
ANONYMOUS = Principal(user_id=0, username="anonymous", org_id=0, org_roles=(),
                      is_admin=False, is_platform=False, scope="public")
