// A page of an export: up to $limit members of segment $segment with a profile id above
// $after, ascending, each with whether it has a read-model row and the values of the row's
// properties named in $properties (in that order; nulls without a row), so that only
// what the export's columns need travels.
// Ordered by both properties of the (segment, profile_id) index, the page is read in index
// order up to $limit (by profile_id alone, every member above $after was sought and sorted).
MATCH (m:SegmentMember {segment: $segment})
WHERE m.profile_id > $after
WITH m
ORDER BY m.segment, m.profile_id
LIMIT $limit
WITH m.profile_id AS profile_id
OPTIONAL MATCH (v:ProfileView {profile_id: profile_id})
USING INDEX SEEK v:ProfileView(profile_id)
RETURN profile_id, v IS NOT NULL AS held, [name IN $properties | v[name]] AS values
ORDER BY profile_id
