"""The GraphQL API (Strawberry): types, thin resolvers, a per-request DataLoader."""

from service.graphql.schema import create_graphql_router

__all__ = ["create_graphql_router"]
