"""services/mail.py against a real SMTP server (aiosmtpd): plain SMTP, STARTTLS with AUTH,
SMTPS, the password never sent in clear, time limits, retries with backoff, a full
outbox, a failing job, and the console sender's log line."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from pathlib import Path

import aiosmtplib
import pytest

from core.settings import MailServer, Secret, parse_mail_url
from services.mail import ConsoleSender, Mail, MailError, Outbox, SmtpSender, build_sender
from tests.helpers import free_port, make_settings
from tests.helpers.smtp import (
    Mailbox,
    client_context,
    html_of,
    self_signed_certificate,
    server_context,
    text_of,
)

MAIL = Mail(
    to="Alice <alice@example.com>",
    subject="Hello",
    text="Open https://gatehouse.test/verify-email?token=abc\n",
    html="<p><a href='https://gatehouse.test/verify-email?token=abc'>link</a></p>",
)


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path)


def _sender(url: str, timeout: float = 5.0, trust: Path | None = None) -> SmtpSender:
    return SmtpSender(
        parse_mail_url(url),
        "Gatehouse <noreply@gatehouse.test>",
        timeout,
        client_context(trust) if trust else None,
    )


async def test_plain_smtp_delivers_text_and_html():
    with Mailbox() as mailbox:
        await _sender(mailbox.url()).send(MAIL)
        [message] = await mailbox.wait_for("alice@example.com")
    assert message["Subject"] == "Hello"
    assert message["From"] == "Gatehouse <noreply@gatehouse.test>"
    assert message["Message-ID"] and message["Date"]
    assert "token=abc" in text_of(message) and "<a href" in html_of(message)
    assert message["X-Envelope-Tls"] == "no"


async def test_starttls_is_used_when_offered_and_carries_the_login(certificate):
    cert, key = certificate
    with Mailbox(starttls=server_context(cert, key), login="mailer", password="s3cret:pw") as mailbox:
        await _sender(mailbox.url(), trust=cert).send(MAIL)
        [message] = await mailbox.wait_for("alice@example.com")
    assert message["X-Envelope-Tls"] == "yes"
    assert message["X-Envelope-Auth"] == "mailer"


async def test_starttls_with_an_untrusted_certificate_fails(certificate):
    cert, key = certificate
    with Mailbox(starttls=server_context(cert, key)) as mailbox:
        with pytest.raises(ssl.SSLCertVerificationError):
            await _sender(mailbox.url()).send(MAIL)  # the system store does not know it
        assert mailbox.messages == []


async def test_smtps_speaks_tls_from_the_first_byte(certificate):
    cert, key = certificate
    with Mailbox(smtps=server_context(cert, key), login="mailer", password="pw") as mailbox:
        await _sender(mailbox.url("smtps"), trust=cert).send(MAIL)
        [message] = await mailbox.wait_for("alice@example.com")
    assert message["X-Envelope-Tls"] == "yes"
    assert message["X-Envelope-Auth"] == "mailer"


async def test_the_password_is_never_sent_without_tls():
    with Mailbox() as mailbox:  # offers no STARTTLS
        sender = _sender(f"smtp://mailer:hunter2@127.0.0.1:{mailbox.port}")
        with pytest.raises(MailError, match="never sent in clear"):
            await sender.send(MAIL)
        assert mailbox.messages == []


async def test_a_wrong_password_is_an_error_and_nothing_is_sent(certificate):
    cert, key = certificate
    with Mailbox(starttls=server_context(cert, key), login="mailer", password="right") as mailbox:
        with pytest.raises(aiosmtplib.SMTPAuthenticationError):
            await _sender(f"smtp://mailer:wrong@127.0.0.1:{mailbox.port}", trust=cert).send(MAIL)
        assert mailbox.messages == []


async def test_a_server_that_never_answers_is_given_up_within_the_time_limit():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never says a word
    try:
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await _sender(f"smtp://127.0.0.1:{port}", timeout=1.0).send(MAIL)
        assert time.monotonic() - started < 5.0
    finally:
        listener.close()


async def test_console_logs_the_mail_with_its_link(caplog):
    with caplog.at_level(logging.INFO, logger="gatehouse.mail"):
        await ConsoleSender("noreply@gatehouse.test").send(MAIL)
    [record] = [r for r in caplog.records if r.name == "gatehouse.mail"]
    assert "verify-email?token=abc" in record.getMessage()
    assert "alice@example.com" in record.getMessage()


def test_build_sender_follows_mail_url():
    assert isinstance(build_sender(make_settings()), ConsoleSender)
    smtp = build_sender(make_settings(mail_server=parse_mail_url("smtps://u:p@mail.test")))
    assert isinstance(smtp, SmtpSender) and smtp.server.port == 465


def test_reprs_never_show_the_password_or_the_body():
    server = parse_mail_url("smtp://user:hunter2@mail.test:2525")
    assert "hunter2" not in repr(server) and "user" not in repr(server)
    assert "hunter2" not in repr(make_settings(mail_server=server))
    assert server.password == Secret("hunter2") and server.username == "user"
    assert "token" not in repr(MAIL) and "alice" not in repr(MAIL) and "token" not in str(MAIL)
    assert repr(MailServer()) == "MailServer('console')"


# -- the outbox -------------------------------------------------------------------------


async def _job() -> Mail:
    return MAIL


async def test_a_failed_send_is_retried_with_backoff_until_the_server_is_up(caplog):
    port = free_port()
    outbox = Outbox(_sender(f"smtp://127.0.0.1:{port}"), attempts=4, backoff=0.3)
    await outbox.start()
    try:
        with caplog.at_level(logging.INFO, logger="gatehouse.mail"):
            assert outbox.submit("test", _job)
            await asyncio.sleep(0.1)  # the first attempt fails: nobody listens yet
            mailbox = Mailbox()
            mailbox.port = port
            from aiosmtpd.controller import Controller

            mailbox.controller = Controller(mailbox.keeper, hostname="127.0.0.1", port=port)
            with mailbox:
                await asyncio.wait_for(outbox.idle(), 10)
                assert len(mailbox.to("alice@example.com")) == 1
    finally:
        await outbox.stop()
    failures = [r for r in caplog.records if "attempt 1 of 4" in r.getMessage()]
    assert failures and "sent" in caplog.records[-1].getMessage()


async def test_a_send_that_keeps_failing_is_dropped_after_the_last_attempt(caplog):
    outbox = Outbox(_sender(f"smtp://127.0.0.1:{free_port()}"), attempts=3, backoff=0.01)
    await outbox.start()
    try:
        with caplog.at_level(logging.WARNING, logger="gatehouse.mail"):
            outbox.submit("doomed", _job)
            await asyncio.wait_for(outbox.idle(), 10)
    finally:
        await outbox.stop()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("sending the doomed mail failed" in m for m in messages) == 3
    assert any("not sent after 3 attempts" in m for m in messages)


async def test_a_full_outbox_drops_new_jobs_without_blocking(caplog):
    outbox = Outbox(ConsoleSender("noreply@gatehouse.test"), capacity=2)  # not started: nothing drains
    with caplog.at_level(logging.ERROR, logger="gatehouse.mail"):
        assert outbox.submit("a", _job) and outbox.submit("b", _job)
        assert not outbox.submit("c", _job)
    assert any("outbox full" in r.getMessage() for r in caplog.records)


async def test_a_failing_job_is_logged_and_the_worker_goes_on(caplog):
    async def broken() -> Mail:
        raise RuntimeError("no database")

    with Mailbox() as mailbox:
        outbox = Outbox(_sender(mailbox.url()), workers=1)
        await outbox.start()
        try:
            with caplog.at_level(logging.ERROR, logger="gatehouse.mail"):
                outbox.submit("broken", broken)
                outbox.submit("fine", _job)
                await asyncio.wait_for(outbox.idle(), 10)
        finally:
            await outbox.stop()
        assert len(mailbox.to("alice@example.com")) == 1
    assert any("preparing the broken mail failed" in r.getMessage() for r in caplog.records)


async def test_a_job_without_a_mail_sends_nothing():
    async def nothing() -> None:
        return None

    with Mailbox() as mailbox:
        outbox = Outbox(_sender(mailbox.url()))
        await outbox.start()
        outbox.submit("nothing", nothing)
        await asyncio.wait_for(outbox.idle(), 10)
        await outbox.stop()
        assert mailbox.messages == []


async def test_stop_waits_a_little_then_ends_a_job_that_hangs():
    async def hangs() -> Mail:
        await asyncio.sleep(60)
        return MAIL

    outbox = Outbox(ConsoleSender("noreply@gatehouse.test"), workers=1)
    await outbox.start()
    outbox.submit("slow", hangs)
    started = time.monotonic()
    await outbox.stop(grace=0.2)
    assert time.monotonic() - started < 3


async def test_a_refused_recipient_is_logged_without_the_address(caplog):
    with Mailbox() as mailbox:
        mailbox.keeper.refused.add("alice@example.com")
        outbox = Outbox(_sender(mailbox.url()), attempts=2, backoff=0.01)
        await outbox.start()
        try:
            with caplog.at_level(logging.INFO, logger="gatehouse.mail"):
                outbox.submit("reset", _job)
                await asyncio.wait_for(outbox.idle(), 10)
        finally:
            await outbox.stop()
        assert mailbox.messages == []
    lines = [r.getMessage() for r in caplog.records if r.name == "gatehouse.mail"]
    assert any("SMTPRecipientsRefused" in line for line in lines), lines
    assert not any("alice" in line for line in lines), lines
