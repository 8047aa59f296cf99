// Keys of the stored metadata documents, sorted (what `idgraph migrate` copies).
MATCH (m:Meta)
RETURN m.key AS key
ORDER BY key
