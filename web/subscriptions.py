"""Subscriptions over WebSocket: the `graphql-transport-ws` protocol on `/graphql`.

The protocol of the `graphql-ws` library (contract section 13), as much as a schema
module's `Subscription` needs: `connection_init` within 10 s (else 4408), `connection_ack`,
`ping`/`pong`, `subscribe` (each id once, 4409 otherwise) answered with `next` messages
and `complete`, or `error`; `complete` from the client stops a subscription. The legacy
`graphql-ws` subprotocol (and none) is refused with 4406 once accepted.

By the time a socket gets here the middleware has checked its origin and put its identity
in the scope (the session cookie, or an `Authorization` header, at the handshake): every
operation of the socket runs with that same identity in its context, as a request's does.
Documents are prepared by the engine (the guard rules of schema/limits.py included) and
errors coded by the one error exit (web/errors.py `code_error`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
from collections.abc import AsyncIterator
from typing import Any

from graphql import ExecutionResult, GraphQLError, OperationType, subscribe
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from auth.backend import AuthBackend
from auth.middleware import identity_of
from core.scope import client_of, connection_of
from core.settings import Settings
from schema.context import Context
from schema.engine import Engine, Phase
from web.errors import code_error

PROTOCOL = "graphql-transport-ws"
INIT_TIMEOUT = 10.0  # seconds a socket may stay unacknowledged
CLOSE_BAD_MESSAGE = 4400
CLOSE_UNAUTHORIZED = 4401  # a subscribe before the connection was acknowledged
CLOSE_SUBPROTOCOL = 4406
CLOSE_INIT_TIMEOUT = 4408
CLOSE_DUPLICATE_ID = 4409
CLOSE_TOO_MANY_INITS = 4429
CLOSE_TOO_BIG = 1009


class _Closed(Exception):
    """The protocol says to close the socket with `code`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class SubscriptionSocket:
    """One `graphql-transport-ws` connection: its operations, run on `engine`."""

    def __init__(
        self,
        settings: Settings,
        backend: AuthBackend,
        engine: Engine,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.engine = engine
        self.scope = scope
        self.socket = WebSocket(scope, receive, send)
        self.hide_suggestions = settings.production
        self.operations: dict[str, asyncio.Task[None]] = {}
        self.acknowledged = False

    async def serve(self) -> None:
        """Accept, then read messages until the client or the protocol ends the socket."""
        if PROTOCOL not in self.scope.get("subprotocols", []):
            await self.socket.accept()
            await self.socket.close(CLOSE_SUBPROTOCOL, "Subprotocol not acceptable")
            return
        await self.socket.accept(subprotocol=PROTOCOL)
        try:
            await asyncio.wait_for(self._initialise(), INIT_TIMEOUT)
            while True:
                await self._handle(await self._message())
        except TimeoutError:
            await self._close(CLOSE_INIT_TIMEOUT, "Connection initialisation timeout")
        except _Closed as closed:
            await self._close(closed.code, closed.reason)
        except WebSocketDisconnect:
            pass
        finally:
            for task in self.operations.values():
                task.cancel()

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(RuntimeError):  # already closed by the client
            await self.socket.close(code, reason)

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
            self._subscribe(message)
        elif kind == "complete":
            task = self.operations.pop(str(message.get("id")), None)
            if task is not None:
                task.cancel()
        else:
            raise _Closed(CLOSE_BAD_MESSAGE, f"Invalid message type {kind[:40]!r}")

    def _subscribe(self, message: dict[str, Any]) -> None:
        if not self.acknowledged:
            raise _Closed(CLOSE_UNAUTHORIZED, "Unauthorized")
        operation_id, payload = message.get("id"), message.get("payload")
        if not isinstance(operation_id, str) or not operation_id or not isinstance(payload, dict):
            raise _Closed(CLOSE_BAD_MESSAGE, "Invalid message received")
        if operation_id in self.operations:
            raise _Closed(CLOSE_DUPLICATE_ID, f"Subscriber for {operation_id[:40]} already exists")
        task = asyncio.create_task(self._run(operation_id, payload))
        self.operations[operation_id] = task
        task.add_done_callback(lambda _: self._forget(operation_id, task))

    def _forget(self, operation_id: str, task: asyncio.Task[None]) -> None:
        if self.operations.get(operation_id) is task:
            del self.operations[operation_id]

    async def _run(self, operation_id: str, payload: dict[str, Any]) -> None:
        try:
            async for result in self._results(payload):
                if isinstance(result, _Refused):
                    await self._send_error(operation_id, list(result.errors or ()), result.phase)
                    return
                body: dict[str, Any] = {"data": result.data}
                if result.errors:
                    body["errors"] = [self._coded(e, Phase.EXECUTION) for e in result.errors]
                await self.socket.send_json({"type": "next", "id": operation_id, "payload": body})
            await self.socket.send_json({"type": "complete", "id": operation_id})
        except (WebSocketDisconnect, RuntimeError):
            return  # the socket is gone: nobody is left to tell

    async def _results(self, payload: dict[str, Any]) -> AsyncIterator[ExecutionResult]:
        """The operation's results: one for a query, each event's for a subscription; a
        result without data before execution is the refusal (`_Refused`)."""
        query, variables = payload.get("query"), payload.get("variables")
        name = payload.get("operationName")
        if not isinstance(query, str) or (variables is not None and not isinstance(variables, dict)):
            yield _Refused(GraphQLError("A subscribe payload needs a `query` string."), Phase.PARSE)
            return
        if name is not None and not isinstance(name, str):
            yield _Refused(GraphQLError("`operationName` must be a string."), Phase.PARSE)
            return
        prepared = self.engine.prepare(query)
        if prepared.errors:
            assert prepared.phase is not None
            yield _Refused(list(prepared.errors), prepared.phase)
            return
        operation = prepared.operations.get(name)
        if operation is None:
            yield _Refused(GraphQLError("Name the operation to run in `operationName`."), Phase.VALIDATION)
            return
        context = Context(
            request=connection_of(self.scope),
            identity=identity_of(self.scope),
            backend=self.backend,
            client=client_of(self.scope, self.settings),
        )
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
                yield _Next(event.data, list(event.errors or ()))
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()

    def _coded(self, error: GraphQLError, phase: Phase) -> dict[str, Any]:
        return dict(code_error(error, phase, self.hide_suggestions).formatted)

    async def _send_error(self, operation_id: str, errors: list[GraphQLError], phase: Phase) -> None:
        payload = [self._coded(e, phase) for e in errors]
        await self.socket.send_json({"type": "error", "id": operation_id, "payload": payload})


class _Next(ExecutionResult):
    """One result to send as `next`."""


class _Refused(ExecutionResult):
    """An operation refused before it ran (or before its first event), with the phase."""

    def __init__(self, errors: GraphQLError | list[GraphQLError], phase: Phase) -> None:
        super().__init__(None, errors if isinstance(errors, list) else [errors])
        self.phase = phase


async def _awaited(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def serve_socket(
    settings: Settings, backend: AuthBackend, engine: Engine, scope: Scope, receive: Receive, send: Send
) -> None:
    """Serve one WebSocket connection on `/graphql`."""
    await SubscriptionSocket(settings, backend, engine, scope, receive, send).serve()
