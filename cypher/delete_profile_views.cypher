// Deletes the read-model rows of profiles (unknown ids are ignored). $ids: [profile id].
UNWIND $ids AS id
MATCH (v:ProfileView {profile_id: id})
USING INDEX SEEK v:ProfileView(profile_id)
DELETE v
