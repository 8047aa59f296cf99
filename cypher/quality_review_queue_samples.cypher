// The review queue's size as the newest $last audit entries that record it left it
// (the "review_queue" key, which the domain writes last in an entry's after), newest
// first. The value is the integer after the key's last occurrence; entries without one
// are skipped. Reads the audit log backwards by id until $last are found.
MATCH (e:AuditEntry)
WHERE e.after CONTAINS '"review_queue":'
WITH e, split(e.after, '"review_queue":') AS parts
WITH e, toInteger(trim(split(split(parts[size(parts) - 1], ',')[0], '}')[0])) AS size
WHERE size IS NOT NULL
RETURN e.id AS id, e.at AS at, size
ORDER BY id DESC
LIMIT $last
