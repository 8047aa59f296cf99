"""Rule changes without fear: what a new rules file would do to the stored graph (a dry
run), the retroactive rebase that applies it, and its undo (docs/rules.md)."""
