"""The Neo4j store's Cypher statements, shipped as package data (see README.md here).

Python code never holds Cypher: :mod:`identity.store.neo4j.cypher` loads these files by name.
"""
