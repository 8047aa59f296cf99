// Takes hashes off the suppression list and returns how many were on it. $hashes.
UNWIND $hashes AS hash
MATCH (s:Suppression {hash: hash})
DELETE s
RETURN count(*) AS deleted
