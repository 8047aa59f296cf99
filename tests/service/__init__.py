"""Tests of the HTTP and GraphQL API over a real store."""
