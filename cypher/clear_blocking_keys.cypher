// Deletes every blocking key node with its edges: the first half of emptying the match
// index before it is rebuilt for new matching settings (a whole-graph statement).
MATCH (k:BlockingKey)
DETACH DELETE k
