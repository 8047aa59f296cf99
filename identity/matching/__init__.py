"""Probabilistic matching: comparison levels, blocking, the Fellegi-Sunter model."""
