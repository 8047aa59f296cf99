// Moves the audit entry sequence past $last (the highest id of imported entries), so
// entries logged afterwards get ids above every imported one; it never moves back.
MERGE (s:Sequence {name: 'audit_entry'})
  ON CREATE SET s.next = 1
SET s.next = CASE WHEN s.next > $last THEN s.next ELSE $last + 1 END
