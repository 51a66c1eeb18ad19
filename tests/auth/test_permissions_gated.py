"""`gated()` with permissions that are not Gatehouse's own: a plain `BasePermission`
answering `False` gets its `on_unauthorized`, an async check works on async fields, and a
check that answers neither `True` nor `False` (or an awaitable in a sync field) is an
error, never access: the fast path keeps Strawberry's rules."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
import strawberry
from strawberry.permission import BasePermission

from auth.identity import ANONYMOUS, Identity
from auth.permissions import gated

CALLS: list[str] = []


@dataclass
class Ctx:
    identity: Identity
    allow: Any


class Answers(BasePermission):
    """Answers whatever the context says (sync)."""

    message = "Not today."

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> Any:
        return info.context.allow


class AnswersLater(BasePermission):
    """Answers whatever the context says, after an await."""

    message = "Not later either."

    async def has_permission(self, source: Any, info: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0)
        return info.context.allow


class ReturnsCoroutine(BasePermission):
    """A plain `def` handing back a coroutine: truthy, and never to be trusted."""

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> Any:
        return asyncio.sleep(0, result=True)


@strawberry.type
class Query:
    @strawberry.field(extensions=gated(Answers()))
    def sync_field(self) -> str | None:
        CALLS.append("sync")
        return "s"

    @strawberry.field(extensions=gated(Answers()))
    async def async_field(self) -> str | None:
        CALLS.append("async")
        return "a"

    @strawberry.field(extensions=gated(AnswersLater()))
    async def async_check(self) -> str | None:
        CALLS.append("async_check")
        return "c"

    @strawberry.field(extensions=gated(ReturnsCoroutine()))
    def coroutine_check(self) -> str | None:
        CALLS.append("coroutine")
        return "x"


SCHEMA = strawberry.Schema(query=Query)


async def run(query: str, allow: Any):
    CALLS.clear()
    return await SCHEMA.execute(query, context_value=Ctx(ANONYMOUS, allow))


@pytest.mark.parametrize(("field", "value"), [("syncField", "s"), ("asyncField", "a"), ("asyncCheck", "c")])
async def test_true_lets_the_resolver_run(field, value):
    result = await run(f"{{ {field} }}", True)
    assert result.errors is None and result.data == {field: value}
    assert len(CALLS) == 1


@pytest.mark.parametrize(
    ("field", "message"),
    [("syncField", "Not today."), ("asyncField", "Not today."), ("asyncCheck", "Not later either.")],
)
async def test_false_is_the_permission_s_own_refusal(field, message):
    result = await run(f"{{ {field} }}", False)
    assert [e.message for e in result.errors] == [message]
    assert result.data == {field: None}
    assert CALLS == []


@pytest.mark.parametrize("field", ["syncField", "asyncField", "asyncCheck"])
@pytest.mark.parametrize("answer", [1, "yes", None, object()])
async def test_an_answer_that_is_not_a_boolean_is_an_error_not_access(field, answer):
    result = await run(f"{{ {field} }}", answer)
    assert result.errors is not None and len(result.errors) == 1
    assert "permissions must return a boolean" in result.errors[0].message
    assert CALLS == []


async def test_an_awaitable_from_a_sync_check_on_a_sync_field_is_an_error_not_access():
    result = await run("{ coroutineCheck }", True)
    assert result.errors is not None and len(result.errors) == 1
    assert "returned an awaitable" in result.errors[0].message
    assert result.data == {"coroutineCheck": None}
    assert CALLS == []


# --- `refused`: the one handling of an answer that is not `True` -----------------------


def test_the_extension_and_the_compiled_engine_share_one_refusal():
    from auth import permissions
    from schema.engine import plans

    assert plans.refused is permissions.refused


def test_refused_raises_the_permission_s_own_error_for_false():
    from strawberry.permission import PermissionExtension

    from auth.permissions import refused

    with pytest.raises(Answers.error_class, match=r"^Not today\.$"):
        refused(PermissionExtension([Answers()]), Answers(), False)


def test_refused_answers_null_or_an_empty_list_when_failing_silently():
    from strawberry.permission import PermissionExtension

    from auth.permissions import refused

    silent = PermissionExtension([Answers()], fail_silently=True)
    assert refused(silent, Answers(), False) is None
    silent.return_empty_list = True
    assert refused(silent, Answers(), False) == []


@pytest.mark.parametrize("answer", [None, 0, 1, "yes", object()])
def test_refused_calls_anything_but_a_boolean_an_error(answer):
    from strawberry.exceptions import PermissionReturnedNonBooleanError
    from strawberry.permission import PermissionExtension

    from auth.permissions import refused

    extension = PermissionExtension([Answers()], fail_silently=True)
    with pytest.raises(PermissionReturnedNonBooleanError):
        refused(extension, Answers(), answer)


def test_refused_closes_an_awaitable_it_cannot_await_and_calls_it_an_error():
    from strawberry.exceptions import (
        PermissionReturnedAwaitableInSyncContextError,
        PermissionReturnedNonBooleanError,
    )
    from strawberry.permission import PermissionExtension

    from auth.permissions import refused

    extension = PermissionExtension([Answers()])
    in_sync_field = asyncio.sleep(0, result=True)
    with pytest.raises(PermissionReturnedAwaitableInSyncContextError):
        refused(extension, Answers(), in_sync_field)
    assert in_sync_field.cr_frame is None, "closed: no 'never awaited' warning"
    awaited_to_a_coroutine = asyncio.sleep(0, result=True)
    with pytest.raises(PermissionReturnedNonBooleanError):
        refused(extension, Answers(), awaited_to_a_coroutine, awaited=True)
    assert awaited_to_a_coroutine.cr_frame is None
