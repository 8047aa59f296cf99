"""The Neo4j store's Cypher statements, shipped as package data (see README.md here).

Python code never holds Cypher: :mod:`identity.store.cypher` loads these files by name.
"""
