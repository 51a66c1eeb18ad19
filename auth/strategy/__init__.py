"""What a credential is and how it is verified: session row, JWT, API token, password."""
