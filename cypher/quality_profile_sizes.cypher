// How many live profiles hold each number of records, for the quality page: every live
// profile once, its records counted from its relationship degree. A whole-graph read.
MATCH (p:Profile)
WHERE p.status = 'live'
WITH COUNT { (p)<-[:IN_PROFILE]-(:Record) } AS size
WHERE size > 0
RETURN size, count(*) AS profiles
ORDER BY size
