"""Subscriptions over WebSocket: the `graphql-transport-ws` protocol on `/graphql`.

The protocol of the `graphql-ws` library (contract section 13), as much as a schema
module's `Subscription` needs: `connection_init` within 10 s (else 4408), `connection_ack`,
`ping`/`pong`, `subscribe` (each id once, 4409 otherwise) answered with `next` messages
and `complete`, or `error`; `complete` from the client stops a subscription. The legacy
`graphql-ws` subprotocol (and none) is refused with 4406 once accepted.

By the time a socket gets here the middleware has checked its origin and put its identity
in the scope (the session cookie, or an `Authorization` header, at the handshake). That
credential is read again, through the same authenticator and identity cache as every
HTTP request (one generation read when cached), for each `subscribe`, before each event
is sent, and every `REVALIDATE_INTERVAL` seconds: once it is revoked or expired, or its
user deactivated, the socket closes with 4401 and its operations stop. A changed identity
(a role withdrawn) is the one the next operation and event run with; a live subscription
whose root field the new identity could no longer use ends with `FORBIDDEN`.

Documents go through the persisted-query rules of HTTP (web/persisted.py, so
`PERSISTED_QUERIES=only` holds here too) and are prepared by the engine (the guard rules
of schema/limits.py included). At most `MAX_SUBSCRIPTIONS_PER_SOCKET` operations run at
once; one more is answered with an `error` message. Every error, an exception raised by
an event stream included, is coded by the one error exit (web/errors.py `code_error`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    subscribe,
)
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from auth.backend import AuthBackend
from auth.identity import Identity
from auth.middleware import identity_of
from core.errors import BadRequest, Forbidden, GatehouseError
from core.scope import client_of, connection_of
from core.settings import Settings
from schema.context import Context
from schema.engine import Engine, Phase
from schema.viewer import could_use, field_permissions
from web.errors import code_error, refuse_websocket
from web.persisted import PersistedQueries

logger = logging.getLogger("gatehouse.subscriptions")

PROTOCOL = "graphql-transport-ws"
INIT_TIMEOUT = 10.0  # seconds a socket may stay unacknowledged
# Seconds between two checks of an open socket's credential: revocation closes it within
# one second (contract section 13). Each check is one identity-cache generation read.
REVALIDATE_INTERVAL = 0.5
CLOSE_BAD_MESSAGE = 4400
# A subscribe before the connection was acknowledged; a credential revoked or expired.
CLOSE_UNAUTHORIZED = 4401
CLOSE_SUBPROTOCOL = 4406
CLOSE_INIT_TIMEOUT = 4408
CLOSE_DUPLICATE_ID = 4409
CLOSE_TOO_MANY_INITS = 4429
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
WITHDRAWN = "A permission this subscription needs was withdrawn."


class _Closed(Exception):
    """The protocol says to close the socket with `code`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class _Gone(Exception):
    """The socket is closed: nobody is left to tell."""


class SubscriptionSocket:
    """One `graphql-transport-ws` connection: its operations, run on `engine`."""

    def __init__(
        self,
        settings: Settings,
        backend: AuthBackend,
        engine: Engine,
        persisted: PersistedQueries,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.engine = engine
        self.persisted = persisted
        self.scope = scope
        self.socket = WebSocket(scope, receive, send)
        self.hide_suggestions = settings.production
        self.max_operations = settings.max_subscriptions_per_socket
        self.operations: dict[str, asyncio.Task[None]] = {}
        # What each live operation runs with, and what its subscription's root fields need.
        self.contexts: dict[str, Context] = {}
        self.needs: dict[str, tuple[object, ...]] = {}
        self.acknowledged = False
        self.identity: Identity = identity_of(scope)
        self.signed_in = self.identity.is_authenticated
        self._ended: asyncio.Future[_Closed | None] | None = None
        self._permissions: dict[str, tuple[object, ...]] | None = None

    async def serve(self) -> None:
        """Accept, then read messages until the client, the protocol or a revocation ends
        the socket."""
        if PROTOCOL not in self.scope.get("subprotocols", []):
            await self.socket.accept()
            await self.socket.close(CLOSE_SUBPROTOCOL, "Subprotocol not acceptable")
            return
        await self.socket.accept(subprotocol=PROTOCOL)
        self._ended = asyncio.get_running_loop().create_future()
        reader = asyncio.create_task(self._read())
        watcher = asyncio.create_task(self._watch()) if self.signed_in else None
        try:
            closed = await self._ended
        finally:
            reader.cancel()
            if watcher is not None:
                watcher.cancel()
            for task in list(self.operations.values()):
                task.cancel()
        if closed is not None:
            await self._close(closed.code, closed.reason)

    def _end(self, closed: _Closed | None) -> None:
        """End the socket (closing it with `closed`'s code, unless the client left)."""
        if self._ended is not None and not self._ended.done():
            self._ended.set_result(closed)

    async def _read(self) -> None:
        try:
            await asyncio.wait_for(self._initialise(), INIT_TIMEOUT)
            while True:
                await self._handle(await self._message())
        except TimeoutError:
            self._end(_Closed(CLOSE_INIT_TIMEOUT, "Connection initialisation timeout"))
        except _Closed as closed:
            self._end(closed)
        except (WebSocketDisconnect, RuntimeError):  # the client left (mid-send, for Starlette)
            self._end(None)
        except Exception:  # a bug here must still end the socket
            logger.exception("unexpected error reading a socket")
            self._end(_Closed(CLOSE_INTERNAL, "Internal server error"))

    async def _watch(self) -> None:
        """Check the credential every `REVALIDATE_INTERVAL`, even with no event to send."""
        try:
            while True:
                await asyncio.sleep(REVALIDATE_INTERVAL)
                await self._revalidate()
        except _Closed as closed:
            self._end(closed)
        except _Gone:
            self._end(None)
        except Exception:  # a bug here must still end the socket
            logger.exception("unexpected error checking a socket's credential")
            self._end(_Closed(CLOSE_INTERNAL, "Internal server error"))

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(RuntimeError):  # already closed by the client
            await self.socket.close(code, reason)

    async def _send(self, message: dict[str, Any]) -> None:
        try:
            await self.socket.send_json(message)
        except (WebSocketDisconnect, RuntimeError):
            raise _Gone() from None

    async def _message(self) -> dict[str, Any]:
        text = await self.socket.receive_text()
        if len(text.encode()) > self.settings.max_body_bytes:
            raise _Closed(CLOSE_TOO_BIG, "Message too big")
        try:
            message = json.loads(text)
        except ValueError:
            raise _Closed(CLOSE_BAD_MESSAGE, "Invalid message received") from None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise _Closed(CLOSE_BAD_MESSAGE, "Invalid message received")
        return message

    async def _initialise(self) -> None:
        while not self.acknowledged:
            message = await self._message()
            if message["type"] == "connection_init":
                self.acknowledged = True
                await self.socket.send_json({"type": "connection_ack"})
            else:
                await self._handle(message)

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "ping":
            await self.socket.send_json({"type": "pong"})
        elif kind == "pong":
            return
        elif kind == "connection_init":
            raise _Closed(CLOSE_TOO_MANY_INITS, "Too many initialisation requests")
        elif kind == "subscribe":
            await self._subscribe(message)
        elif kind == "complete":
            operation_id = str(message.get("id"))
            task = self.operations.get(operation_id)
            if task is not None:
                self._forget(operation_id, task)
                task.cancel()
        else:
            raise _Closed(CLOSE_BAD_MESSAGE, f"Invalid message type {kind[:40]!r}")

    # -- the credential, read again ----------------------------------------------------

    async def _revalidate(self) -> Identity:
        """The socket's identity as its credential stands now, the same way an HTTP
        request's is read; `_Closed` (4401) once it is revoked, expired or deactivated.

        A new identity (a role changed) replaces the old one in every live operation's
        context, and ends the other subscriptions whose root field it could not use."""
        if not self.signed_in:
            return self.identity  # nothing to revoke: anonymous stays anonymous
        try:
            resolution = await self.backend.authenticator.authenticate(
                connection_of(self.scope), client_of(self.scope, self.settings)
            )
        except Exception as exc:  # noqa: BLE001 - the error exit maps every kind to a close
            refusal = refuse_websocket(exc)
            raise _Closed(refusal.code, refusal.reason) from None
        identity = resolution.identity
        if identity.user_id != self.identity.user_id:  # a stale cookie reads as anonymous
            raise _Closed(CLOSE_UNAUTHORIZED, "Unauthorized")
        if identity is not self.identity:
            self.identity = identity
            for context in self.contexts.values():
                context.identity = identity
            current = asyncio.current_task()
            for operation_id, task in list(self.operations.items()):
                if task is not current and not self._still_allowed(operation_id):
                    self._forget(operation_id, task)
                    task.cancel()
                    await self._send_withdrawn(operation_id)
        return identity

    def _still_allowed(self, operation_id: str) -> bool:
        """Whether the socket's identity could still use the operation's root fields."""
        return could_use(self.needs.get(operation_id, ()), self.identity)

    async def _send_withdrawn(self, operation_id: str) -> None:
        error = GraphQLError(WITHDRAWN, original_error=Forbidden(WITHDRAWN))
        body = {"data": None, "errors": [self._coded(error)]}
        await self._send({"type": "next", "id": operation_id, "payload": body})
        await self._send({"type": "complete", "id": operation_id})

    def _root_needs(self, document: DocumentNode, operation: OperationDefinitionNode) -> tuple[object, ...]:
        """The permissions on the subscription root fields `operation` selects."""
        if self._permissions is None:
            self._permissions = field_permissions(self.engine.graphql_schema)
        root = self.engine.graphql_schema.subscription_type
        assert root is not None
        return tuple(
            permission
            for name in _root_field_names(document, operation.selection_set)
            for permission in self._permissions.get(f"{root.name}.{name}", ())
        )

    # -- operations ---------------------------------------------------------------------

    async def _subscribe(self, message: dict[str, Any]) -> None:
        if not self.acknowledged:
            raise _Closed(CLOSE_UNAUTHORIZED, "Unauthorized")
        operation_id, payload = message.get("id"), message.get("payload")
        if not isinstance(operation_id, str) or not operation_id or not isinstance(payload, dict):
            raise _Closed(CLOSE_BAD_MESSAGE, "Invalid message received")
        if operation_id in self.operations:
            raise _Closed(CLOSE_DUPLICATE_ID, f"Subscriber for {operation_id[:40]} already exists")
        identity = await self._revalidate()
        if len(self.operations) >= self.max_operations:
            # graphql-ws has no close code for this: the one operation is refused.
            refusal = BadRequest(
                f"At most {self.max_operations} operations run at once on one socket: "
                "complete one before subscribing again."
            )
            await self.socket.send_json(
                {"type": "error", "id": operation_id, "payload": [self._coded(_graphql_error(refusal))]}
            )
            return
        context = Context(
            request=connection_of(self.scope),
            identity=identity,
            backend=self.backend,
            client=client_of(self.scope, self.settings),
        )
        task = asyncio.create_task(self._run(operation_id, payload, context))
        self.operations[operation_id] = task
        self.contexts[operation_id] = context
        task.add_done_callback(lambda _: self._forget(operation_id, task))

    def _forget(self, operation_id: str, task: asyncio.Task[None]) -> None:
        if self.operations.get(operation_id) is task:
            del self.operations[operation_id]
            self.contexts.pop(operation_id, None)
            self.needs.pop(operation_id, None)

    async def _run(self, operation_id: str, payload: dict[str, Any], context: Context) -> None:
        """One operation to its end; whatever it raises is answered, never left in the task."""
        try:
            await self._stream(operation_id, payload, context)
        except _Gone:
            return
        except _Closed as closed:
            self._end(closed)
        except Exception as exc:  # noqa: BLE001 - the one error exit codes every kind
            # From the event stream or its events (a permission refusing an event, a
            # resolver failing): graphql-ws answers `next` with the errors, then `complete`.
            with contextlib.suppress(_Gone):
                body = {"data": None, "errors": [self._coded(_graphql_error(exc))]}
                await self._send({"type": "next", "id": operation_id, "payload": body})
                await self._send({"type": "complete", "id": operation_id})

    async def _stream(self, operation_id: str, payload: dict[str, Any], context: Context) -> None:
        async for result in self._results(operation_id, payload, context):
            if isinstance(result, _Refused):
                await self._send_error(operation_id, list(result.errors or ()), result.phase)
                return
            if isinstance(result, _Event):
                # Before sending an event: the credential still holds, and (if the identity
                # changed) still allows the subscription.
                await self._revalidate()
                if self.operations.get(operation_id) is not asyncio.current_task():
                    return  # ended meanwhile (completed, or its permission withdrawn)
                if not self._still_allowed(operation_id):
                    await self._send_withdrawn(operation_id)
                    return
            body: dict[str, Any] = {"data": result.data}
            if result.errors:
                body["errors"] = [self._coded(e) for e in result.errors]
            await self._send({"type": "next", "id": operation_id, "payload": body})
        await self._send({"type": "complete", "id": operation_id})

    async def _results(
        self, operation_id: str, payload: dict[str, Any], context: Context
    ) -> AsyncIterator[ExecutionResult]:
        """The operation's results: one for a query, each event's for a subscription; a
        result without data before execution is the refusal (`_Refused`)."""
        query, variables = payload.get("query"), payload.get("variables")
        name = payload.get("operationName")
        if (query is not None and not isinstance(query, str)) or (
            variables is not None and not isinstance(variables, dict)
        ):
            yield _Refused(GraphQLError("A subscribe payload needs a `query` string."), Phase.PARSE)
            return
        if name is not None and not isinstance(name, str):
            yield _Refused(GraphQLError("`operationName` must be a string."), Phase.PARSE)
            return
        try:
            # The persisted-query rules of HTTP: APQ hashes, `PERSISTED_QUERIES=only`.
            prepared = await self.persisted.prepare(self.engine, query, payload.get("extensions"))
        except GatehouseError as refused:
            yield _Refused(_graphql_error(refused), Phase.EXECUTION)
            return
        if prepared.errors:
            assert prepared.phase is not None
            yield _Refused(list(prepared.errors), prepared.phase)
            return
        operation = prepared.operations.get(name)
        if operation is None:
            yield _Refused(GraphQLError("Name the operation to run in `operationName`."), Phase.VALIDATION)
            return
        if operation.operation is OperationType.MUTATION:
            yield _Refused(GraphQLError("Send mutations as POST requests."), Phase.VALIDATION)
            return
        if operation.operation is OperationType.QUERY:
            outcome = await self.engine.execute(prepared, name, variables, context)
            if not outcome.has_data:
                yield _Refused(list(outcome.errors), outcome.phase)
            else:
                yield _Next(outcome.data, list(outcome.errors))
            return
        coerced = self.engine.coerce(operation, variables)
        if isinstance(coerced, list):
            yield _Refused(coerced, Phase.VARIABLES)
            return
        assert prepared.document is not None
        self.needs[operation_id] = self._root_needs(prepared.document, operation)
        executor = self.engine.schema.execution_context_class  # Strawberry's, as Schema.subscribe passes
        source = await _awaited(
            subscribe(
                self.engine.graphql_schema,
                prepared.document,
                context_value=context,
                variable_values=variables,
                operation_name=name,
                **({"executor_class": executor} if executor else {}),
            )
        )
        if isinstance(source, ExecutionResult):
            # The stream could not start (a permission refused it): one `next` with the
            # errors, then `complete`, as the graphql-ws library answers it.
            yield _Next(source.data, list(source.errors or ()))
            return
        try:
            async for event in source:
                yield _Event(event.data, list(event.errors or ()))
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()

    def _coded(self, error: GraphQLError, phase: Phase = Phase.EXECUTION) -> dict[str, Any]:
        return dict(code_error(error, phase, self.hide_suggestions).formatted)

    async def _send_error(self, operation_id: str, errors: list[GraphQLError], phase: Phase) -> None:
        payload = [self._coded(e, phase) for e in errors]
        await self._send({"type": "error", "id": operation_id, "payload": payload})


class _Next(ExecutionResult):
    """One result to send as `next`."""


class _Event(_Next):
    """One event of a subscription's stream, to send as `next` while the credential holds."""


class _Refused(ExecutionResult):
    """An operation refused before it ran (or before its first event), with the phase."""

    def __init__(self, errors: GraphQLError | list[GraphQLError], phase: Phase) -> None:
        super().__init__(None, errors if isinstance(errors, list) else [errors])
        self.phase = phase


def _graphql_error(exc: Exception) -> GraphQLError:
    """`exc` as an execution error for `code_error`: a `GraphQLError` as it is, anything
    else as its original error (coded by type; an unexpected one masked and logged)."""
    if isinstance(exc, GraphQLError):
        return exc
    message = exc.message if isinstance(exc, GatehouseError) else type(exc).__name__
    return GraphQLError(message, original_error=exc)


def _root_field_names(document: DocumentNode, selection_set: SelectionSetNode) -> list[str]:
    """The names of the root fields a selection set selects, through its fragments."""
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    names: list[str] = []
    pending: list[SelectionSetNode] = [selection_set]
    seen: set[str] = set()
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                names.append(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                seen.add(selection.name.value)
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    pending.append(fragment.selection_set)
    return names


async def _awaited(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def serve_socket(
    settings: Settings,
    backend: AuthBackend,
    engine: Engine,
    persisted: PersistedQueries,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    """Serve one WebSocket connection on `/graphql`."""
    await SubscriptionSocket(settings, backend, engine, persisted, scope, receive, send).serve()
