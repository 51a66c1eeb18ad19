"""The HTTP face: GraphQL over HTTP, its middleware, and the one error exit."""
