"""Thin resolvers: read the context, call a service, wrap the result in a GraphQL type."""
