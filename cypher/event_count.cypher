// How many events the store holds (from the count store).
RETURN COUNT { (:Event) } AS events
