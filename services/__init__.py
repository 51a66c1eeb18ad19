"""Business logic, callable without GraphQL: accounts, credentials, validation, audit."""
