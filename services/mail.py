"""Mail off the request path: an outbox of jobs, worked by background tasks, and a sender.

A request never waits for a mail server. It hands the `Outbox` a job (the work that
finds the account, makes a token and renders the mail) and answers at once; the
outbox's workers, started and stopped by the app's lifespan, run the job and send what
it returns, retrying a failed send a few times with growing waits. Nothing a mail
server does reaches a client: a send that still fails is logged and dropped, and a full
outbox drops new jobs (logged) instead of growing without bound.

`MAIL_URL` chooses the sender: `ConsoleSender` writes each mail, links included, to the
log (for development: following the link is how a developer uses it), `SmtpSender`
sends it with aiosmtplib over STARTTLS (when offered) or SMTPS, with a time limit on
every step. A mail's `repr()` never shows its body, which holds a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

import aiosmtplib

from core.settings import MailServer, Settings

logger = logging.getLogger("gatehouse.mail")

OUTBOX_CAPACITY = 1000  # jobs waiting at most; more are dropped (and logged)
OUTBOX_WORKERS = 2  # mails prepared and sent at once
SEND_ATTEMPTS = 4  # one send and three retries
RETRY_BACKOFF = 2.0  # seconds before the first retry; each further wait is 4 times longer
STOP_GRACE = 5.0  # seconds the lifespan's end waits for jobs still queued


@dataclass(frozen=True)
class Mail:
    """One message to one address: a plain-text body and its HTML alternative."""

    to: str
    subject: str
    text: str
    html: str

    def __repr__(self) -> str:  # the body holds a token, the address is personal data
        return f"Mail(subject={self.subject!r})"

    __str__ = __repr__


class MailError(Exception):
    """A mail could not be handed to the mail server."""


class MailSender(Protocol):
    """Delivers one mail, or raises."""

    async def send(self, mail: Mail) -> None:
        """Deliver `mail`."""
        ...


def build_message(mail: Mail, sender: str) -> EmailMessage:
    """The MIME message for `mail`: `multipart/alternative` with the text first."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip(" >") or None)
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


class ConsoleSender:
    """`MAIL_URL=console`: each mail is written to the log, whole, and never sent.

    The log line holds the mail's links and so their tokens: that is the point in
    development, and the reason production warns about console mail at start-up.
    """

    def __init__(self, sender: str) -> None:
        self.sender = sender

    async def send(self, mail: Mail) -> None:
        """Log `mail` (its plain-text body) on `gatehouse.mail`."""
        logger.info(
            "mail (MAIL_URL=console, not sent)\nFrom: %s\nTo: %s\nSubject: %s\n\n%s",
            self.sender,
            mail.to,
            mail.subject,
            mail.text,
        )


class SmtpSender:
    """Sends with aiosmtplib to the `MailServer` of `MAIL_URL`.

    `smtp://` upgrades with STARTTLS whenever the server offers it; `smtps://` is TLS from
    the start. The user name and password are sent only over TLS: a server that offers no
    STARTTLS gets no password (`MailError`), so a stripped upgrade leaks nothing. Every
    step (connect, each command) is bounded by `timeout`, and the whole send by four times
    that. `tls_context` (tests, or a private CA) replaces the system's trust store;
    `SSL_CERT_FILE` works too.
    """

    def __init__(
        self,
        server: MailServer,
        sender: str,
        timeout: float,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.server = server
        self.sender = sender
        self.timeout = timeout
        self.tls_context = tls_context

    async def send(self, mail: Mail) -> None:
        """Deliver `mail`; `MailError` (or aiosmtplib's errors) when it fails."""
        server = self.server
        client = aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            use_tls=server.scheme == "smtps",
            start_tls=None if server.scheme == "smtp" else False,  # None: when offered
            timeout=self.timeout,
            tls_context=self.tls_context,
        )
        async with asyncio.timeout(4 * self.timeout):
            async with client:
                if server.username is not None:
                    if client.get_transport_info("sslcontext") is None:
                        raise MailError(
                            "the mail server offered no STARTTLS: the SMTP password is never sent in clear"
                        )
                    password = server.password.reveal() if server.password is not None else ""
                    await client.login(server.username, password)
                await client.send_message(build_message(mail, self.sender))


def build_sender(settings: Settings, tls_context: ssl.SSLContext | None = None) -> MailSender:
    """The sender `MAIL_URL` names."""
    if settings.mail_server.console:
        return ConsoleSender(settings.mail_from)
    return SmtpSender(settings.mail_server, settings.mail_from, settings.mail_timeout, tls_context)


def describe_failure(exc: BaseException) -> str:
    """A log line's account of a failed send, without the server's own words: an SMTP
    reply may quote the recipient's address (`550 <bob@example.com>: no such user`),
    so replies are named by type and code only."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return f"{type(exc).__name__}: {len(exc.recipients)} recipient(s) refused"
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"{type(exc).__name__}: reply {exc.code}"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


# The work of one mail: find what it needs, and return the mail, or None for no mail.
MailJob = Callable[[], Awaitable[Mail | None]]


class Outbox:
    """A bounded queue of mail jobs and the background tasks that work it.

    `submit` never blocks and never fails the caller; `start` and `stop` belong to the
    app's lifespan (inside the database's, since jobs read and write rows). `idle`
    waits until every job submitted so far is done (tests, and `stop`).
    """

    def __init__(
        self,
        sender: MailSender,
        *,
        capacity: int = OUTBOX_CAPACITY,
        workers: int = OUTBOX_WORKERS,
        attempts: int = SEND_ATTEMPTS,
        backoff: float = RETRY_BACKOFF,
    ) -> None:
        self.sender = sender
        self.attempts = attempts
        self.backoff = backoff
        self._workers = workers
        self._queue: asyncio.Queue[tuple[str, MailJob]] = asyncio.Queue(maxsize=capacity)
        self._tasks: list[asyncio.Task[None]] = []

    def submit(self, what: str, job: MailJob) -> bool:
        """Queue `job` (`what` names it in the log, e.g. "password reset"); False when
        the outbox is full and the job was dropped."""
        try:
            self._queue.put_nowait((what, job))
        except asyncio.QueueFull:
            logger.error("mail outbox full (%d jobs): %s mail dropped", self._queue.maxsize, what)
            return False
        return True

    async def start(self) -> None:
        """Start the workers."""
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._work(), name=f"gatehouse-mail-{number}")
                for number in range(self._workers)
            ]

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Give queued jobs `grace` seconds, then end the workers (a mail still pending is lost)."""
        if not self._tasks:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._queue.join()
        if self._queue.qsize():
            logger.warning("mail outbox stopped with %d jobs not done", self._queue.qsize())
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def idle(self) -> None:
        """Return once every job submitted so far has been worked (sent, dropped or failed)."""
        await self._queue.join()

    async def _work(self) -> None:
        while True:
            what, job = await self._queue.get()
            try:
                await self._run(what, job)
            finally:
                self._queue.task_done()

    async def _run(self, what: str, job: MailJob) -> None:
        try:
            mail = await job()
        except Exception:  # a job that fails must not end the worker
            logger.exception("preparing the %s mail failed; nothing sent", what)
            return
        if mail is None:
            return
        for attempt in range(1, self.attempts + 1):
            try:
                await self.sender.send(mail)
            except Exception as exc:  # noqa: BLE001 - every failure is retried, then logged
                logger.warning(
                    "sending the %s mail failed (attempt %d of %d): %s",
                    what,
                    attempt,
                    self.attempts,
                    describe_failure(exc),
                )
                if attempt < self.attempts:
                    await asyncio.sleep(self.backoff * 4 ** (attempt - 1))
            else:
                logger.info("%s mail sent", what)
                return
        logger.error("the %s mail was not sent after %d attempts; dropped", what, self.attempts)
