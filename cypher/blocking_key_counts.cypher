// How many records hold each blocking key of the match index; unknown keys count 0, so a
// caller can leave out oversized keys before reading their records. $keys: [string].
UNWIND $keys AS key
OPTIONAL MATCH (:BlockingKey {key: key})<-[h:HAS_BLOCKING_KEY]-(:Record)
RETURN key, count(h) AS records
