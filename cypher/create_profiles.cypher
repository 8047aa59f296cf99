// New live profiles; an id that exists already violates profile_id and fails the batch.
// $rows: [{id, split_from}]: split_from names the profile a split-off one came from, null
// for a profile of new records (a null property is not stored).
UNWIND $rows AS row
CREATE (:Profile {
  id: row.id,
  status: 'live',
  merged_from: [],
  split_from: row.split_from,
  created_at: $now,
  updated_at: $now
})
