"""A real SMTP server for tests (aiosmtpd), the links in the mails it received, and a
self-signed certificate for its STARTTLS and SMTPS modes.

`Mailbox` runs aiosmtpd's `Controller` (its own thread and loop) on a free port chosen
here (`port=0` fails in aiosmtpd); every message delivered to it is kept, parsed. Nothing
of the sender is replaced: the app sends with aiosmtplib over a real socket.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import re
import ssl
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.helpers.processes import free_port

DELIVERY_TIMEOUT = 15.0  # seconds a test waits for a mail (a loaded 2-core machine)


class _Keeper:
    """aiosmtpd handler: keeps each message's envelope and parsed content."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()
        # Recipients refused with a reply that quotes the address, as real servers do.
        self.refused: set[str] = set()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.lower() in self.refused:
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        encrypted = session.ssl or server.transport.get_extra_info("sslcontext") is not None
        message["X-Envelope-Tls"] = "yes" if encrypted else "no"
        message["X-Envelope-Auth"] = session.auth_data.login.decode() if session.authenticated else ""
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"


class Mailbox:
    """An SMTP server on 127.0.0.1 that keeps what it receives.

    `starttls` offers STARTTLS with that context; `smtps` speaks TLS from the start;
    `login`/`password` make it require AUTH (aiosmtpd allows AUTH over TLS only).
    """

    def __init__(
        self,
        *,
        starttls: ssl.SSLContext | None = None,
        smtps: ssl.SSLContext | None = None,
        login: str | None = None,
        password: str | None = None,
    ) -> None:
        self.port = free_port()
        self.keeper = _Keeper()
        self.login = login
        kwargs: dict[str, Any] = {}
        if starttls is not None:
            kwargs["tls_context"] = starttls
        if login is not None:
            kwargs["authenticator"] = self._authenticate
            if smtps is None:
                kwargs["auth_required"] = True
            else:
                # aiosmtpd counts only STARTTLS as TLS for AUTH (and warns when AUTH is
                # required without it): an SMTPS socket is TLS too, so AUTH is offered there.
                kwargs["auth_require_tls"] = False
        self.controller = Controller(
            self.keeper, hostname="127.0.0.1", port=self.port, ssl_context=smtps, **kwargs
        )
        self._password = password

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.login
            and auth_data.password.decode() == self._password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    def start(self) -> Mailbox:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> Mailbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, scheme: str = "smtp") -> str:
        """`MAIL_URL` for this server (with the credentials when it requires them)."""
        auth = f"{self.login}:{self._password}@" if self.login else ""
        return f"{scheme}://{auth}127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        with self.keeper.lock:
            return list(self.keeper.messages)

    def to(self, address: str) -> list[EmailMessage]:
        """Messages delivered to `address` (ignoring case), oldest first."""
        return [m for m in self.messages if address.lower() in m["X-Envelope-To"].lower()]

    async def wait_for(
        self, address: str, count: int = 1, timeout: float = DELIVERY_TIMEOUT
    ) -> list[EmailMessage]:
        """The first `count` messages to `address`, waiting for them to arrive."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.to(address)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} mail(s) to {address} expected, {len(found)} arrived")
            await asyncio.sleep(0.02)


def text_of(message: EmailMessage) -> str:
    """The plain-text body."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "no text/plain part"
    return part.get_content()


def html_of(message: EmailMessage) -> str:
    """The HTML body."""
    part = message.get_body(preferencelist=("html",))
    assert part is not None, "no text/html part"
    return part.get_content()


def link_in(message: EmailMessage, path: str) -> str:
    """The link to `path` (e.g. "/reset-password") in the text body."""
    found = re.search(rf"https?://\S+{re.escape(path)}\?token=[A-Za-z0-9_-]+", text_of(message))
    assert found, f"no {path} link in: {text_of(message)!r}"
    return found.group(0)


def token_in(message: EmailMessage, path: str) -> str:
    """The token of the link to `path` in the mail."""
    return link_in(message, path).rpartition("token=")[2]


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost and its key, written as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """The TLS context of the test server."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def client_context(cert: Path) -> ssl.SSLContext:
    """A client context that trusts `cert` alone (hostname checked)."""
    return ssl.create_default_context(cafile=str(cert))
