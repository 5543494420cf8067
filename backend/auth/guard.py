"""Bearer-token authentication for views: `@bp.auth_required(auth, roles=[...])`."""
from __future__ import annotations

from apiflask import HTTPTokenAuth
from flask import current_app, g

from ..errors import DomainError, ErrorCode
from .contacts import note_contact
from .service import Principal, decode_access_token
from .sessions import is_session_revoked

auth = HTTPTokenAuth(scheme="Bearer", description="登录后获得的访问令牌 (JWT)")


@auth.verify_token
def _verify(token: str) -> Principal | None:
    if not token:
        return None
    try:
        principal = decode_access_token(secret=current_app.config["SECRET_KEY"], token=token)
    except DomainError as error:
        if error.code is ErrorCode.TOKEN_EXPIRED:
            raise  # its own code (docs/api.md): the client refreshes instead of signing in again
        return None
    # Logout, refresh-token reuse, a disabled account or a revoked device: refused from the next request on.
    device_id = principal.id if principal.kind == "device" else None
    if is_session_revoked(principal.session_id, device_id=device_id):
        return None
    note_contact(principal)  # a scanner heard from now was online now (offline scans are bounded by it)
    g.principal = principal
    return principal


@auth.get_user_roles
def _roles(principal: Principal) -> list[str]:
    return [principal.role]


def current_principal() -> Principal:
    return auth.current_user
