"""`/tokens`: a user's own API tokens: list, create (shown once), revoke one or all."""

from __future__ import annotations

from apiflask import APIBlueprint, abort

from .. import accounts
from ..models import ApiToken
from .auth import auth, current_token, current_user
from .schemas import NewTokenSchema, RevokedSchema, TokenInSchema, TokenSchema

bp = APIBlueprint("tokens", __name__, url_prefix="/tokens", tag="Tokens")


@bp.get("")
@bp.auth_required(auth)
@bp.output(TokenSchema(many=True))
def list_tokens() -> list[ApiToken]:
    """List your tokens

    Names and dates only; a token's secret is shown once, when it is made.
    """
    return accounts.tokens_of(current_user())


@bp.post("")
@bp.auth_required(auth)
@bp.input(TokenInSchema, arg_name="body")
@bp.output(NewTokenSchema, status_code=201)
@bp.doc(responses={409: "You already hold MAX_TOKENS_PER_USER live tokens."})
def create_token(body: dict) -> dict:
    """Make a token

    The answer carries the new secret in `token`; it is not shown again.
    With `expires_at`, the token stops working then.
    """
    try:
        token, secret = accounts.create_token(
            current_user(), body["name"], expires_at=body["expires_at"]
        )
    except accounts.TooManyTokens as error:
        abort(409, f"{error}.")
    except accounts.AccountError as error:
        abort(422, str(error))
    return {"token": secret, **{field: getattr(token, field) for field in TokenSchema().fields}}


@bp.delete("")
@bp.auth_required(auth)
@bp.output(RevokedSchema, description="Every other token of yours is revoked.")
def revoke_all_tokens() -> dict:
    """Revoke all your other tokens

    Every token of yours but the one this request carries stops working at
    once: what to do when one may have leaked.
    """
    return {"revoked": accounts.revoke_all(current_user(), keep=current_token())}


@bp.delete("/<int:token_id>")
@bp.auth_required(auth)
@bp.output({}, status_code=204, description="Revoked: the token no longer works.")
@bp.doc(responses={404: "No such token among yours."})
def revoke_token(token_id: int) -> tuple[str, int]:
    """Revoke a token

    Your own tokens; an admin may revoke anyone's.
    """
    accounts.revoke_token_of(current_user(), token_id)
    return "", 204
