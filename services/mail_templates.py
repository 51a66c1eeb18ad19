"""The mails Gatehouse sends, as `string.Template`s: a plain-text body and an HTML one.

Values are filled with `$name`; in the HTML body each value is escaped first, so a
username can never add markup. Every mail says what to do when the reader did not ask
for it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from string import Template

from services.mail import Mail

_HTML_PAGE = Template(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>$subject</title></head>
<body style="font-family: sans-serif; line-height: 1.5">
$body
</body></html>
"""
)


@dataclass(frozen=True)
class MailTemplate:
    """A subject and two bodies with the same `$placeholders`."""

    subject: str
    text: Template
    html: Template

    def render(self, to: str, **values: str) -> Mail:
        """The mail to `to` with `values` filled in (escaped in the HTML body)."""
        escaped = {name: html.escape(value, quote=True) for name, value in values.items()}
        body = self.html.substitute(escaped)
        return Mail(
            to=to,
            subject=self.subject,
            text=self.text.substitute(values),
            html=_HTML_PAGE.substitute(subject=html.escape(self.subject), body=body),
        )


VERIFY_EMAIL = MailTemplate(
    subject="Verify your email address",
    text=Template(
        """Hello $username,

please confirm that this is your email address by opening this link within 24 hours:

$link

If you did not create an account, ignore this mail: nothing will happen.
"""
    ),
    html=Template(
        """<p>Hello $username,</p>
<p>please confirm that this is your email address by opening this link within 24 hours:</p>
<p><a href="$link">Verify my email address</a></p>
<p>If the button does not work, copy this address into your browser:<br>$link</p>
<p>If you did not create an account, ignore this mail: nothing will happen.</p>"""
    ),
)

RESET_PASSWORD = MailTemplate(
    subject="Reset your password",
    text=Template(
        """Hello $username,

someone (hopefully you) asked to reset the password of your account. To choose a new
password, open this link within 30 minutes; it works once:

$link

If you did not ask for this, ignore this mail: your password stays as it is.
"""
    ),
    html=Template(
        """<p>Hello $username,</p>
<p>someone (hopefully you) asked to reset the password of your account. To choose a new
password, open this link within 30 minutes; it works once:</p>
<p><a href="$link">Choose a new password</a></p>
<p>If the button does not work, copy this address into your browser:<br>$link</p>
<p>If you did not ask for this, ignore this mail: your password stays as it is.</p>"""
    ),
)

CONFIRM_EMAIL_CHANGE = MailTemplate(
    subject="Confirm your new email address",
    text=Template(
        """Hello $username,

to make this the email address of your account, open this link within 1 hour:

$link

If you did not ask for this, ignore this mail: the account keeps its address.
"""
    ),
    html=Template(
        """<p>Hello $username,</p>
<p>to make this the email address of your account, open this link within 1 hour:</p>
<p><a href="$link">Confirm my new email address</a></p>
<p>If the button does not work, copy this address into your browser:<br>$link</p>
<p>If you did not ask for this, ignore this mail: the account keeps its address.</p>"""
    ),
)

EMAIL_CHANGED_NOTICE = MailTemplate(
    subject="The email address of your account was changed",
    text=Template(
        """Hello $username,

the email address of your account was changed to $new_email. Mails about the account
go there from now on.

If you did not do this, contact the administrator of this service at once.
"""
    ),
    html=Template(
        """<p>Hello $username,</p>
<p>the email address of your account was changed to <b>$new_email</b>. Mails about the
account go there from now on.</p>
<p>If you did not do this, contact the administrator of this service at once.</p>"""
    ),
)
