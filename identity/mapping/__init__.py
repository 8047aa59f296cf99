"""Source mappings: a declarative description of one source's rows (``document``), the
paths into nested JSON rows (``paths``), value parsers (``values``) and the mapper that
turns a row into a :class:`SourceRecord` with per-field errors and warnings (``mapper``).

A mapping is validated when loaded, with errors naming the file and the field; a row is
mapped without ever raising. The format is documented in docs/sources.md.
"""

from identity.mapping.document import (
    ATTRIBUTE_TYPES,
    DEFAULT_ENCODING,
    DEFAULT_PRIORITY,
    FORMATS,
    AttributeField,
    AttributeType,
    IdentifierField,
    SourceMapping,
    encoding_problem,
    load_mapping,
)
from identity.mapping.mapper import MappedRow, RecordMapper

__all__ = [
    "ATTRIBUTE_TYPES",
    "DEFAULT_ENCODING",
    "DEFAULT_PRIORITY",
    "FORMATS",
    "AttributeField",
    "AttributeType",
    "IdentifierField",
    "MappedRow",
    "RecordMapper",
    "SourceMapping",
    "encoding_problem",
    "load_mapping",
]
