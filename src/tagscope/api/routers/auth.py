"""``/api/auth``: log in and out of the web app, and who the caller is (F-90).

``POST /api/auth/login`` ``{name, password}`` sets the session cookie and answers :class:`Me`
(401: wrong name or password, never saying which; 429 with ``Retry-After`` after repeated
failures, per account and per address). ``POST /api/auth/logout`` ends the session (204).
``GET /api/auth/me`` answers :class:`Me` for a session or a token (401 without), and on a
``--no-auth`` server ``auth: false`` with every right.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field

from tagscope.api import auth
from tagscope.api.dependencies import Access, AppWorkspaceDep, WorkspaceDep, needs
from tagscope.domain import TagscopeError
from tagscope.domain.access import MAX_USER_NAME
from tagscope.service import Workspace, accounts, policy
from tagscope.service import datasets as datasets_uc
from tagscope.service.policy import WORKSPACE_ACTIONS, Action

router = APIRouter(prefix="/api/auth", tags=["auth"])

MAX_PASSWORD = 1024  # hashing a longer one is only work for an attacker


class Credentials(BaseModel):
    name: str = Field(max_length=MAX_USER_NAME)
    password: str = Field(max_length=MAX_PASSWORD)


class DatasetAccess(BaseModel):
    role: str | None = Field(description="the caller's role there")
    actions: list[str] = Field(description="the policy actions the caller may do there")


class Me(BaseModel):
    auth: bool = Field(description="false: a --no-auth server, everyone acts as the owner")
    user: str | None = Field(description="the account (the owner's OS user on --no-auth)")
    role: str | None = Field(description="the workspace-wide role")
    csrf_token: str | None = Field(
        description="send as X-CSRF-Token with every change made by the session cookie"
    )
    workspace_actions: list[str] = Field(description="dataset.create, users.manage")
    datasets: dict[str, DatasetAccess] = Field(description="every dataset the caller may read")


def describe(ws: Workspace, *, auth_on: bool, csrf_token: str | None) -> Me:
    """What ``ws.identity`` may do, as the policy says, for the faces to show only that."""
    identity = ws.identity
    datasets = {}
    for ds in datasets_uc.list_datasets(ws):
        role = policy.role_on(identity, ds.id)
        actions = [
            a.value
            for a in Action
            if a not in WORKSPACE_ACTIONS and policy.allows(identity, a, ds.id)
        ]
        datasets[ds.name] = DatasetAccess(role=role.value if role else None, actions=actions)
    return Me(
        auth=auth_on,
        user=identity.name,
        role=identity.role.value if identity.role else None,
        csrf_token=csrf_token,
        workspace_actions=[
            a.value for a in Action if a in WORKSPACE_ACTIONS and policy.allows(identity, a)
        ],
        datasets=datasets,
    )


@router.post("/login", openapi_extra=needs(Access.PUBLIC))
def login(body: Credentials, request: Request, response: Response, ws: AppWorkspaceDep) -> Me:
    config = auth.auth_config(request)
    if not config.enabled:
        raise TagscopeError("this server has no accounts (tagscope serve --no-auth): no login")
    auth.check_same_origin(request)
    identity, secret = accounts.login(
        ws,
        body.name,
        body.password,
        address=auth.client_address(request),
        settings=config.settings,
    )
    auth.set_session_cookie(response, request, secret, config.settings.session_ttl)
    return describe(ws.acting_as(identity), auth_on=True, csrf_token=accounts.csrf_token(secret))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, openapi_extra=needs(Access.PUBLIC))
def logout(request: Request, ws: AppWorkspaceDep) -> Response:
    """End the session of the cookie (it needs its CSRF token) and clear the cookie."""
    secret = auth.session_secret(request)
    if secret is not None:
        auth.check_csrf(request, secret)
        accounts.logout(ws, secret)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    auth.clear_session_cookie(response, request)
    return response


@router.get("/me", openapi_extra=needs(Access.PUBLIC))
def me(request: Request, ws: WorkspaceDep) -> Me:
    """The caller, their roles and what they may do (401 without a session or a token)."""
    secret = auth.session_secret(request)
    csrf = accounts.csrf_token(secret) if secret is not None else None
    return describe(ws, auth_on=auth.auth_config(request).enabled, csrf_token=csrf)
