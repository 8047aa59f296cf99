// Whole-graph totals for `idgraph` reports and metrics: label and relationship counts
// are answered from the count store, not by scanning. Identifiers count only when a record
// carries them (an identifier only events carry, such as an anonymous cookie, is not part
// of the identity graph's size), which needs a pass over the Identifier nodes.
RETURN
  COUNT { (:Record) } AS records,
  COUNT { (i:Identifier) WHERE EXISTS { (i)<-[:HAS_IDENTIFIER]-() } } AS identifiers,
  COUNT { (p:Profile) WHERE p.status = 'live' } AS profiles,
  COUNT { ()-[:LINK]->() } AS links
