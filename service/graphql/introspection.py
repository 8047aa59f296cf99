"""Introspection refused (``IDGRAPH_GRAPHQL_INTROSPECTION=false``, the default in production):
the schema is not handed to whoever holds a token, and ``__schema`` or ``__type`` fails
validation with a message naming the setting that allows it. ``__typename`` still answers.
"""

from __future__ import annotations

from typing import Any

from graphql import FieldNode, GraphQLError, get_named_type, is_introspection_type
from graphql.validation import NoSchemaIntrospectionCustomRule


class NoIntrospection(NoSchemaIntrospectionCustomRule):
    """graphql-core's rule, reporting the introspection field a query starts from (not each
    field below it) and how to allow it."""

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        kind = get_named_type(self.context.get_type())
        parent = self.context.get_parent_type()
        if kind and is_introspection_type(kind) and not (parent and is_introspection_type(parent)):
            self.report_error(
                GraphQLError(
                    f"introspection is disabled on this server ('{node.name.value}'): set "
                    "IDGRAPH_GRAPHQL_INTROSPECTION=true to allow it (it is off by default "
                    "when IDGRAPH_ENV=production)",
                    node,
                )
            )
