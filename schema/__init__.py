"""The GraphQL schema: types, inputs, permissions wiring, errors and the HTTP view."""
