// Whole-graph totals for `idgraph` reports and metrics: label and relationship counts
// are answered from the count store, not by scanning.
RETURN
  COUNT { (:Record) } AS records,
  COUNT { (:Identifier) } AS identifiers,
  COUNT { (p:Profile) WHERE p.status = 'live' } AS profiles,
  COUNT { ()-[:LINK]->() } AS links
