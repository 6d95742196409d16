"""``/api/users`` and ``/api/tokens``: accounts, their roles and API tokens over REST (F-90).

Administration (``users.manage``: a workspace admin) but for one's own tokens, which anyone
signed in may create, list and revoke. The service decides both.

=======  ===================================  ==================================================
method   path                                 what
=======  ===================================  ==================================================
GET      /api/users                           every account with its roles
POST     /api/users                           ``{name, password, role?}`` -> 201 user
PATCH    /api/users/{name}                    ``{role?, disabled?, password?}`` (role null: no
                                              workspace-wide role) -> user
PUT      /api/users/{name}/roles/{dataset}    ``{role}``: the role on that dataset -> user
DELETE   /api/users/{name}/roles/{dataset}    back to the workspace-wide role -> user
GET      /api/tokens                          ``user``: tokens (never their secret)
POST     /api/tokens                          ``{user?, name, expires_days?, scope?, dataset?}``
                                              -> 201 ``{token, secret}``: the secret shown once
DELETE   /api/tokens/{user}/{name}            revoke -> token
=======  ===================================  ==================================================
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from tagscope.api.dependencies import Access, WorkspaceDep, needs
from tagscope.domain import ValidationError
from tagscope.domain import access as domain
from tagscope.domain.access import MAX_USER_NAME
from tagscope.service import Workspace, accounts, policy
from tagscope.service.policy import Action

router = APIRouter(prefix="/api", tags=["users"])

MANAGE = needs(Action.USERS_MANAGE)
MAX_PASSWORD = 1024
MAX_TOKEN_DAYS = 3650


class User(BaseModel):
    id: int
    name: str
    role: str | None = Field(description="workspace-wide role (null: only per dataset)")
    dataset_roles: dict[str, str] = Field(description="dataset name -> role there")
    disabled: bool
    created_at: datetime

    @classmethod
    def from_domain(cls, u: domain.User) -> User:
        return cls(
            id=u.id,
            name=u.name,
            role=u.role.value if u.role else None,
            dataset_roles={name: role.value for name, role in u.dataset_roles.items()},
            disabled=u.disabled,
            created_at=u.created_at,
        )


class ApiToken(BaseModel):
    id: int
    user: str
    name: str
    scope: str
    dataset: str | None = Field(description="the one dataset it reaches (null: its user's all)")
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_domain(cls, t: domain.ApiToken) -> ApiToken:
        return cls(
            id=t.id,
            user=t.user,
            name=t.name,
            scope=t.scope.value,
            dataset=t.dataset,
            created_at=t.created_at,
            expires_at=t.expires_at,
            last_used_at=t.last_used_at,
            revoked_at=t.revoked_at,
        )


class NewUser(BaseModel):
    name: str = Field(max_length=MAX_USER_NAME)
    password: str = Field(max_length=MAX_PASSWORD)
    role: str | None = Field("viewer", description="workspace-wide role (null: only per dataset)")


class UserChange(BaseModel):
    role: str | None = Field(None, description="workspace-wide role; null removes it")
    disabled: bool | None = None
    password: str | None = Field(None, max_length=MAX_PASSWORD)


class DatasetRole(BaseModel):
    role: str


class NewToken(BaseModel):
    user: str | None = Field(None, description="default: the caller")
    name: str = Field(max_length=64)
    expires_days: float | None = Field(None, gt=0, le=MAX_TOKEN_DAYS, description="null: never")
    scope: str = "write"
    dataset: str | None = Field(None, description="the one dataset it may reach")


class NewTokenSecret(BaseModel):
    token: ApiToken
    secret: str = Field(description="the token itself: shown this once, only its hash is kept")


@router.get("/users", openapi_extra=MANAGE)
def list_users(ws: WorkspaceDep) -> list[User]:
    return [User.from_domain(u) for u in accounts.list_users(ws)]


@router.post("/users", status_code=status.HTTP_201_CREATED, openapi_extra=MANAGE)
def add_user(body: NewUser, ws: WorkspaceDep) -> User:
    return User.from_domain(accounts.add_user(ws, body.name, body.password, body.role))


@router.patch("/users/{name}", openapi_extra=MANAGE)
def change_user(name: str, body: UserChange, ws: WorkspaceDep) -> User:
    """Change what the body names: ``role`` (null: none), ``disabled``, ``password`` (a reset
    and a disable end the user's sessions)."""
    if "role" in body.model_fields_set:
        accounts.set_role(ws, name, body.role)
    if body.disabled is not None:
        accounts.disable_user(ws, name, body.disabled)
    if body.password is not None:
        accounts.reset_password(ws, name, body.password)
    return User.from_domain(accounts.get_user(ws, name))


@router.put("/users/{name}/roles/{dataset}", openapi_extra=MANAGE)
def set_dataset_role(name: str, dataset: str, body: DatasetRole, ws: WorkspaceDep) -> User:
    return User.from_domain(accounts.set_role(ws, name, body.role, dataset=dataset))


@router.delete("/users/{name}/roles/{dataset}", openapi_extra=MANAGE)
def remove_dataset_role(name: str, dataset: str, ws: WorkspaceDep) -> User:
    return User.from_domain(accounts.set_role(ws, name, None, dataset=dataset))


@router.get("/tokens", openapi_extra=needs(Access.SELF))
def list_tokens(ws: WorkspaceDep, user: str | None = None) -> list[ApiToken]:
    """The tokens of ``user``; by default everyone's for those who manage users, else the
    caller's own."""
    if user is None and not policy.allows(ws.identity, Action.USERS_MANAGE):
        user = ws.identity.name
    return [ApiToken.from_domain(t) for t in accounts.list_tokens(ws, user)]


@router.post("/tokens", status_code=status.HTTP_201_CREATED, openapi_extra=needs(Access.SELF))
def create_token(body: NewToken, ws: WorkspaceDep) -> NewTokenSecret:
    user = body.user or _own_account(ws)
    expires = timedelta(days=body.expires_days) if body.expires_days is not None else None
    token, secret = accounts.create_token(
        ws, user, body.name, expires_in=expires, scope=body.scope, dataset=body.dataset
    )
    return NewTokenSecret(token=ApiToken.from_domain(token), secret=secret)


@router.delete("/tokens/{user}/{name}", openapi_extra=needs(Access.SELF))
def revoke_token(user: str, name: str, ws: WorkspaceDep) -> ApiToken:
    return ApiToken.from_domain(accounts.revoke_token(ws, user, name))


def _own_account(ws: Workspace) -> str:
    if ws.identity.is_owner:
        raise ValidationError("name the user the token is for", field="user")
    return ws.identity.name
