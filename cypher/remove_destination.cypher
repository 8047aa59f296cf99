// Deletes a destination and its dead letters; removed is 0 when there was none.
MATCH (d:Destination {name: $name})
OPTIONAL MATCH (l:DestinationDeadLetter {destination: $name})
WITH d, collect(l) AS letters
FOREACH (l IN letters | DELETE l)
DETACH DELETE d
RETURN count(*) AS removed
