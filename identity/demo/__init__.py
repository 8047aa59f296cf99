"""Seeded demo data for idgraph: five source files, their mappings, and the ground truth."""
