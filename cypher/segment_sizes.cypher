// Member counts of the named segments ($names; null for all), 0 included.
MATCH (s:Segment)
WHERE $names IS NULL OR s.name IN $names
RETURN s.name AS name, COUNT { MATCH (m:SegmentMember {segment: s.name}) } AS members
