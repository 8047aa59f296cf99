// Inserts new events and replaces changed ones (same event id). $rows: [{event_id, type,
// channel, ts, body}]: ts is the timestamp as a DATETIME in UTC (so comparisons and
// ordering are by instant), body the event as received (JSON text, the timestamp with its
// own offset); received_at is $now (ISO-8601 text).
UNWIND $rows AS row
MERGE (e:Event {event_id: row.event_id})
SET
  e.type = row.type,
  e.channel = row.channel,
  e.ts = row.ts,
  e.body = row.body,
  e.received_at = $now
