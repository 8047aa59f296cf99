// Moves the profile change sequence past $last (the highest seq of an imported log), so
// changes logged afterwards come after every imported one; it never moves back.
MERGE (s:Sequence {name: 'profile_change'})
  ON CREATE SET s.next = 1
SET s.next = CASE WHEN s.next > $last THEN s.next ELSE $last + 1 END
