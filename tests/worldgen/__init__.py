"""A second test-data generator, independent of identity.demo: six differently shaped
sources about people from eight countries, with the quirks of real exports, and the truth.

`python -m tests.worldgen --people N --seed S --out DIR`; see README.md here.
"""
