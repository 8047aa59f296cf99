// Every GraphQL document the console sends, in one place: the console uses the public
// API alone (docs/api.md), so each of these can be tried in GraphiQL as it is.

export const VIEWER = `query Viewer { viewer { name scopes } }`;

const RECORD_REF = `source key`;

export const SEARCH = `query Search($name: String, $email: String, $phone: String, $postcode: String, $birthDate: String) {
  searchProfiles(name: $name, email: $email, phone: $phone, postcode: $postcode, birthDate: $birthDate, first: 20) {
    totalCount notes
    nodes {
      rank profileId score probability record { ${RECORD_REF} }
      fields { field level weight searched found }
      profile { id records { source } attributes { name value } }
    }
  }
}`;

export const PROFILE_BY_IDENTIFIER = `query ByIdentifier($kind: String!, $value: String!) {
  profilesByIdentifier(kind: $kind, value: $value) { id records { source } attributes { name value } }
}`;

export const PROFILE = `query Profile($id: ID!) {
  profile(id: $id) {
    id mergedFrom splitFrom createdAt updatedAt segments
    attributes { name value rule candidates provenance { source recordKey timestamp } }
    identifiers { kind value originals recordCount links }
    consent { purpose granted at source via }
    traits { firstSeen lastSeen events orders orderValue lastOrder recencyDays }
    journey(first: 50) {
      nodes { id type timestamp channel source properties identifiers { kind value } }
      pageInfo { hasNextPage endCursor }
    }
  }
  cluster(profileId: $id) {
    profileId size truncated
    records { source key timestamp attributes identifiers { kind value } }
    identifiers { kind value links notLinkingReason recordCount records { ${RECORD_REF} } }
    links { ...link }
    externalLinks { ...link otherProfileId }
    suspicion { score size reasons { type message score } }
  }
}
fragment link on ClusterLink {
  a { ${RECORD_REF} } b { ${RECORD_REF} } type matcher weight matchWeight probability
  identifier { kind value } contributions { field level weight }
}`;

export const JOURNEY_PAGE = `query Journey($id: ID!, $after: String) {
  profile(id: $id) {
    journey(first: 50, after: $after) {
      nodes { id type timestamp channel source properties identifiers { kind value } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

export const EXPLAIN = `query Explain($a: RecordRefInput!, $b: RecordRefInput!) {
  explainLink(recordA: $a, recordB: $b, alternatives: 1) {
    __typename
    ... on LinkExplained { paths { length hops { from { ${RECORD_REF} } to { ${RECORD_REF} } evidence { kind matcher matchWeight probability identifier { kind value } contributions { field level weight } } } } }
    ... on RecordsNotLinked { message }
    ... on UnknownRecord { message }
  }
}`;

const RESULT = `__typename
  ... on StewardActionDone { actionId profileIds }
  ... on StewardActionRefused { code message }`;

export const SPLIT = `mutation Split($id: ID!, $groups: [[RecordRefInput!]!]!, $reason: String!) {
  splitProfile(profileId: $id, groups: $groups, reason: $reason) { ${RESULT} }
}`;

export const SEPARATE = `mutation Separate($a: RecordRefInput!, $b: RecordRefInput!, $reason: String!) {
  separateRecords(a: $a, b: $b, reason: $reason) { ${RESULT} }
}`;

export const MERGE = `mutation Merge($ids: [ID!]!, $reason: String!) {
  mergeProfiles(ids: $ids, reason: $reason) { ${RESULT} }
}`;

export const UNDO = `mutation Undo($id: Int!, $reason: String) {
  undo(actionId: $id, reason: $reason) { ${RESULT} }
}`;

export const ACCEPT = `mutation Accept($a: RecordRefInput!, $b: RecordRefInput!, $reason: String) {
  acceptMatch(a: $a, b: $b, reason: $reason) { ${RESULT} }
}`;

export const REJECT = `mutation Reject($a: RecordRefInput!, $b: RecordRefInput!, $reason: String) {
  rejectMatch(a: $a, b: $b, reason: $reason) { ${RESULT} }
}`;

export const PROFILE_SUMMARY = `query Summary($id: ID!) {
  profile(id: $id) { id records { source key } attributes { name value } }
}`;

export const REVIEW_QUEUE = `query Review($after: String) {
  reviewQueue(first: 50, after: $after, order: PROBABILITY) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      a { ${RECORD_REF} } b { ${RECORD_REF} } profileA profileB weight probability evidence reason
      duplicateAccount { source kinds rule countsAgainst }
    }
  }
}`;

export const RECORDS_OF = `query RecordsOf($a: ID!, $b: ID!) {
  a: cluster(profileId: $a, maxRecords: 200) { profileId records { source key timestamp attributes identifiers { kind value } } }
  b: cluster(profileId: $b, maxRecords: 200) { profileId records { source key timestamp attributes identifiers { kind value } } }
}`;

export const SUSPICIOUS = `query Suspicious($after: String, $refresh: Boolean!) {
  suspiciousClusters(first: 50, after: $after, refresh: $refresh) {
    totalCount computedAt profilesAnalysed sizeThreshold
    pageInfo { hasNextPage endCursor }
    nodes { rank profileId score size reasons { type message score } }
  }
}`;

// The match weights in a request of their own: the dearest figure (a pass over every
// link), so it has its own time budget and the other charts do not wait for it.
export const QUALITY_WEIGHTS = `query QualityWeights {
  quality { matchWeights { from to links reviews } }
}`;

export const QUALITY = `query Quality {
  quality {
    profiles records reviewQueueSize
    clusterSizes { from to profiles }
    linksByMatcher { matcher kind links }
    reviewQueueHistory { at size }
    ingestWarnings { source field warnings loads }
  }
}`;

export const AUDIT = `query Audit($after: String, $action: String) {
  auditLog(first: 50, after: $after, action: $action) {
    pageInfo { hasNextPage endCursor }
    nodes { id at actor action target reason undoes undoneBy after }
  }
}`;
