"""What `/work/shared/CONTRACT.md` fixes, written out for the tests to hold the code to
(never read from the code, so that a test comparing with it can fail)."""

from __future__ import annotations

# The root fields anyone may call. Sections 3 and 7: who is calling, signing in, and what
# the caller could use; section 11: what a mailed link or a forgotten password needs;
# section 10: signing in through a provider.
CONTRACT_PUBLIC = frozenset(
    {
        "Query.me",
        "Query.viewer",
        "Mutation.register",
        "Mutation.login",
        "Mutation.refreshToken",
        "Mutation.verifyEmail",
        "Mutation.requestPasswordReset",
        "Mutation.resetPassword",
        "Mutation.confirmEmailChange",
        "Mutation.beginExternalLogin",
        "Mutation.loginWithIdToken",
    }
)
