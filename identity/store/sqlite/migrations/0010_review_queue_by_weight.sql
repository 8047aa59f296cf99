-- Schema version 10: the review queue ordered by probability (highest weight first) seeks
-- the links of one type in weight order instead of sorting all of them for every page.
-- Not a partial index (WHERE type = 'review'): the planner does not pick one for the
-- statement's bound :type, and the queue's statement is generic over the link type.
CREATE INDEX links_by_type_weight ON links (type, weight DESC, a, b);
