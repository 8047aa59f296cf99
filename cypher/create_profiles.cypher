// New live profiles; an id that exists already violates profile_id and fails the batch.
UNWIND $ids AS id
CREATE (:Profile {id: id, status: 'live', merged_from: [], created_at: $now, updated_at: $now})
