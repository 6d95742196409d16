"""The policy's table and rules (F-90), pure: identities built by hand, no workspace."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from types import MappingProxyType

import pytest

from tagscope.domain import Dataset, PermissionDeniedError
from tagscope.domain.access import Identity, Role, Scope
from tagscope.service import policy
from tagscope.service.policy import TABLE, WORKSPACE_ACTIONS, Action

A, B = 1, 2
DS_A = Dataset(A, "alpha", "", datetime(2026, 1, 1, tzinfo=UTC), 0)
DS_B = Dataset(B, "beta", "", datetime(2026, 1, 1, tzinfo=UTC), 0)
ROLES = list(Role)  # viewer ... admin, least to most


def user(
    role: Role | None = None,
    *,
    on: dict[int, Role] | None = None,
    scope: Scope = Scope.ADMIN,
    token_dataset: int | None = None,
    name: str = "u",
) -> Identity:
    return Identity(
        name=name,
        role=role,
        dataset_roles=MappingProxyType(on or {}),
        scope=scope,
        token_dataset=token_dataset,
        user_id=7,
    )


def _documented_table() -> dict[Action, frozenset[Role]]:
    """The action x role table of the policy module's docstring, parsed."""
    lines = policy.__doc__.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("action "))
    columns = {role: lines[header].index(role.value) for role in Role}
    rows: dict[Action, frozenset[Role]] = {}
    for line in lines[header + 2 :]:
        if line.startswith("="):
            break
        name = line.split()[0]
        rows[Action(name)] = frozenset(r for r, at in columns.items() if line[at : at + 1] == "x")
    return rows


def test_every_action_has_roles_and_admins_may_do_everything() -> None:
    assert set(TABLE) == set(Action)
    for action, roles in TABLE.items():
        assert roles, action
        assert Role.ADMIN in roles, action


def test_the_table_is_the_one_documented() -> None:
    assert _documented_table() == TABLE


def test_each_role_may_do_all_that_the_roles_below_it_may() -> None:
    allowed = [{a for a, roles in TABLE.items() if r in roles} for r in ROLES]
    for lower, higher in itertools.pairwise(allowed):
        assert lower < higher


def test_a_viewer_reads_only() -> None:
    viewer = user(Role.VIEWER)
    assert [a for a in Action if policy.allows(viewer, a, A)] == [Action.READ]


@pytest.mark.parametrize(
    ("role", "may"),
    [
        (Role.ANNOTATOR, {Action.READ, Action.LABELS_EDIT_ASSIGNED}),
        (
            Role.REVIEWER,
            {
                Action.READ,
                Action.LABELS_EDIT_ASSIGNED,
                Action.REVIEW_DECIDE,
                Action.TAGS_REVIEW,
                Action.RESULT_SETS_EDIT,
            },
        ),
    ],
)
def test_annotators_and_reviewers(role: Role, may: set[Action]) -> None:
    assert {a for a in Action if policy.allows(user(role), a, A)} == may


def test_editors_may_do_all_but_administration() -> None:
    editor = user(Role.EDITOR)
    refused = {a for a in Action if not policy.allows(editor, a, A)}
    assert refused == {
        Action.LABELS_EDIT_COMPLETE,
        Action.DATASET_DELETE,
        Action.HISTORY_UNDO_USER,
        Action.USERS_MANAGE,
    }


def test_no_role_no_access_at_all() -> None:
    nobody = user(None)
    assert not any(policy.allows(nobody, a, A) for a in Action)
    assert policy.role_on(nobody, A) is None


def test_a_role_on_a_dataset_overrides_the_workspace_role() -> None:
    viewer_but_editor_of_a = user(Role.VIEWER, on={A: Role.EDITOR})
    assert policy.allows(viewer_but_editor_of_a, Action.DATASET_EDIT, A)
    assert not policy.allows(viewer_but_editor_of_a, Action.DATASET_EDIT, B)
    editor_but_viewer_of_a = user(Role.EDITOR, on={A: Role.VIEWER})
    assert not policy.allows(editor_but_viewer_of_a, Action.DATASET_EDIT, A)
    assert policy.allows(editor_but_viewer_of_a, Action.DATASET_EDIT, B)
    only_a = user(None, on={A: Role.VIEWER})
    assert policy.allows(only_a, Action.READ, A)
    assert not policy.allows(only_a, Action.READ, B)


def test_workspace_actions_ignore_dataset_roles() -> None:
    assert {Action.DATASET_CREATE, Action.USERS_MANAGE} == WORKSPACE_ACTIONS
    admin_of_a = user(None, on={A: Role.ADMIN})
    for action in WORKSPACE_ACTIONS:
        assert not policy.allows(admin_of_a, action)
        assert not policy.allows(admin_of_a, action, A)  # the dataset given changes nothing
    viewer_of_a = user(Role.EDITOR, on={A: Role.VIEWER})
    assert policy.allows(viewer_of_a, Action.DATASET_CREATE, A)
    assert not policy.allows(viewer_of_a, Action.USERS_MANAGE)
    assert policy.allows(user(Role.ADMIN, on={A: Role.VIEWER}), Action.USERS_MANAGE)


@pytest.mark.parametrize(
    ("scope", "allowed"),
    [
        (Scope.READ, {Action.READ}),
        (Scope.WRITE, set(Action) - {a for a in Action if TABLE[a] == {Role.ADMIN}}),
        (Scope.ADMIN, set(Action)),
    ],
)
def test_a_token_scope_caps_its_users_role(scope: Scope, allowed: set[Action]) -> None:
    admin = user(Role.ADMIN, scope=scope)
    assert {a for a in Action if policy.allows(admin, a, A)} == allowed
    # ... and never adds to it
    viewer = user(Role.VIEWER, scope=scope)
    assert {a for a in Action if policy.allows(viewer, a, A)} == {Action.READ}


def test_scope_needed() -> None:
    assert policy.scope_needed(Action.READ) is Scope.READ
    assert policy.scope_needed(Action.DATASET_EDIT) is Scope.WRITE
    assert policy.scope_needed(Action.COLLECTIONS_EDIT) is Scope.WRITE
    for action in (Action.DATASET_DELETE, Action.USERS_MANAGE, Action.LABELS_EDIT_COMPLETE):
        assert policy.scope_needed(action) is Scope.ADMIN


def test_a_token_of_one_dataset_reaches_only_it_and_never_the_workspace() -> None:
    token = user(Role.ADMIN, token_dataset=A)
    assert policy.allows(token, Action.DATASET_DELETE, A)
    assert not any(policy.allows(token, a, B) for a in Action)
    assert policy.role_on(token, B) is None
    assert not policy.allows(token, Action.DATASET_CREATE)
    assert not policy.allows(token, Action.USERS_MANAGE)


def test_the_owner_may_do_everything() -> None:
    owner = Identity.owner("alice")
    assert owner.is_owner
    assert all(policy.allows(owner, a, d) for a in Action for d in (A, B, None))
    assert policy.readable_dataset_ids(owner, [A, B]) is None  # no filtering at all
    policy.check(owner, Action.DATASET_DELETE, DS_A)


def test_readable_dataset_ids() -> None:
    assert policy.readable_dataset_ids(user(None, on={B: Role.VIEWER}), [A, B]) == {B}
    assert policy.readable_dataset_ids(user(Role.VIEWER), [A, B]) == {A, B}
    assert policy.readable_dataset_ids(user(Role.VIEWER, token_dataset=A), [A, B]) == {A}
    assert policy.readable_dataset_ids(user(None), [A, B]) == frozenset()


def test_jobs_of_a_dataset_are_seen_by_its_readers_jobs_of_none_by_admins() -> None:
    reader = user(None, on={A: Role.VIEWER})
    assert policy.job_visible(reader, A)
    assert not policy.job_visible(reader, B)
    assert not policy.job_visible(reader, None)
    assert not policy.job_visible(user(Role.EDITOR), None)
    assert not policy.job_visible(user(None, on={A: Role.ADMIN}), None)
    assert not policy.job_visible(user(Role.ADMIN, token_dataset=A), None)
    assert policy.job_visible(user(Role.ADMIN), None)
    assert policy.job_visible(user(Role.ADMIN, scope=Scope.READ), None)
    assert policy.job_visible(Identity.owner("alice"), None)


def test_denials_name_who_what_where_and_the_role_needed() -> None:
    viewer = user(Role.VIEWER, name="vera")
    with pytest.raises(PermissionDeniedError) as refused:
        policy.check(viewer, Action.DATASET_EDIT, DS_A)
    message = str(refused.value)
    assert "vera" in message
    assert "viewer on dataset 'alpha'" in message
    assert "dataset.edit" in message
    assert "editor or admin" in message
    stranger = policy.denial(user(None, name="sam"), Action.READ, DS_B)
    assert "sam (no role on dataset 'beta') may not read" in stranger
    assert "users set-role sam viewer --dataset beta" in stranger  # how to get a role
    workspace = policy.denial(user(None, on={A: Role.ADMIN}, name="ann"), Action.DATASET_CREATE)
    assert "no role on the workspace" in workspace
    assert "editor or admin" in workspace


def test_a_denial_by_scope_says_the_token_is_the_reason() -> None:
    token = user(Role.ADMIN, scope=Scope.READ, name="ci")
    message = policy.denial(token, Action.DATASET_EDIT, DS_A)
    assert message.startswith("ci's token has scope read")
    assert "needs a token of scope write" in message
    assert "scope admin" in policy.denial(
        user(Role.ADMIN, scope=Scope.WRITE), Action.DATASET_DELETE, DS_A
    )


def test_a_denial_beyond_a_tokens_dataset_says_the_token_is_the_reason() -> None:
    token = user(Role.ADMIN, token_dataset=A, name="ci")
    message = policy.denial(token, Action.READ, DS_B)
    assert message.startswith("ci's token reaches one dataset only, not dataset 'beta'")
    assert "set-role" not in message  # the user has a role there: no role is missing
    assert "not the workspace" in policy.denial(token, Action.DATASET_CREATE)


def test_tag_group_visibility() -> None:
    reader_of_a = user(None, on={A: Role.VIEWER})
    # a secret group trained on A: seen from A only
    assert policy.group_visible(reader_of_a, A, False, A)
    assert policy.group_visible(reader_of_a, A, False)
    assert not policy.group_visible(user(None, on={B: Role.VIEWER}), A, False)
    assert not policy.group_visible(user(Role.VIEWER), A, False, B)
    # a shareable one: from any dataset the caller may read
    assert policy.group_visible(user(Role.VIEWER), A, True, B)
    assert not policy.group_visible(reader_of_a, A, True, B)
    assert not policy.group_visible(user(None), A, True)
