"""Entry points over the :mod:`identity` domain: the HTTP and GraphQL API and the CLI.

Nothing here matches records: it reads configuration, authenticates callers and
translates requests into calls on :class:`identity.graph.IdentityGraph`.
"""
