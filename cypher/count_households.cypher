// How many households and household members the graph holds (count-store reads).
CALL () {
  MATCH (h:Household)
  RETURN count(h) AS households
}
CALL () {
  MATCH (m:HouseholdMember)
  RETURN count(m) AS members
}
RETURN households, members
