"""HTTP routes: health probes, records and sources. GraphQL lives in :mod:`service.graphql`."""
