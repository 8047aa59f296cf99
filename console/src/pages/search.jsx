// Search: by e-mail, phone, name (with postcode or birth date) or profile id.
import { useEffect, useState } from "preact/hooks";
import { gql } from "../api.js";
import { ErrorBox, Loading, formatNumber, personName } from "../components.jsx";
import { PROFILE_BY_IDENTIFIER, SEARCH } from "../queries.js";

const PROFILE_ID = /^p_[0-9A-HJKMNP-TV-Z]{26}$/i;

/** What a typed text most likely is: a profile id, an e-mail, a phone, kind:value, or a name. */
export function readQuery(text) {
  const q = text.trim();
  if (PROFILE_ID.test(q)) return { kind: "profile", value: q };
  if (q.includes("@")) return { kind: "email", value: q };
  if (/^\+?[\d\s().-]{6,}$/.test(q)) return { kind: "phone", value: q };
  const pair = q.match(/^([a-z_]+):\s*(\S.*)$/);
  if (pair) return { kind: "identifier", idKind: pair[1], value: pair[2] };
  return { kind: "name", value: q };
}

function Results({ params }) {
  const q = params.get("q") || "";
  const postcode = params.get("postcode") || "";
  const birthDate = params.get("birth") || "";
  const [state, setState] = useState({ loading: true });
  useEffect(() => {
    const read = readQuery(q);
    if (read.kind === "profile") {
      location.hash = `#/profile/${read.value}`;
      return;
    }
    let request;
    if (read.kind === "identifier") {
      request = gql(PROFILE_BY_IDENTIFIER, { kind: read.idKind, value: read.value }).then((data) => ({
        nodes: data.profilesByIdentifier.map((profile, i) => ({ rank: i + 1, profileId: profile.id, profile, fields: [] })),
        notes: [],
        totalCount: data.profilesByIdentifier.length,
      }));
    } else {
      const variables = { [read.kind]: read.value };
      if (postcode) variables.postcode = postcode;
      if (birthDate) variables.birthDate = birthDate;
      request = gql(SEARCH, variables).then((data) => data.searchProfiles);
    }
    request.then((found) => setState({ found })).catch((error) => setState({ error }));
  }, [q, postcode, birthDate]);
  if (state.error) return <ErrorBox error={state.error} />;
  if (!state.found) return <Loading what="matches" />;
  const { nodes, notes, totalCount } = state.found;
  return (
    <section class="results">
      <p class="muted">{totalCount} profile{totalCount === 1 ? "" : "s"} found{notes.length ? ` · ${notes.join(" · ")}` : ""}</p>
      {nodes.length > 0 && (
        <table class="grid" data-testid="search-results">
          <thead><tr><th>#</th><th>Profile</th><th>Name</th><th>Sources</th><th>Score</th><th>Fields compared</th></tr></thead>
          <tbody>
            {nodes.map((node) => (
              <tr class="result" key={node.profileId}>
                <td>{node.rank}</td>
                <td><a href={`#/profile/${node.profileId}`}>{node.profileId}</a></td>
                <td>{node.profile ? personName(node.profile.attributes) : ""}</td>
                <td>{node.profile ? [...new Set(node.profile.records.map((r) => r.source))].join(", ") : ""}</td>
                <td>{node.score !== undefined ? formatNumber(node.score) : ""}{node.probability != null ? ` (p ${formatNumber(node.probability, 3)})` : ""}</td>
                <td>{node.fields.map((f) => <span class="chip" title={`searched ${f.searched ?? "-"}, found ${f.found ?? "-"}`}>{f.field}: {f.level} {formatNumber(f.weight, 1)}</span>)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function SearchPage({ params }) {
  const [q, setQ] = useState(params.get("q") || "");
  const [postcode, setPostcode] = useState(params.get("postcode") || "");
  const [birth, setBirth] = useState(params.get("birth") || "");
  const submit = (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    if (q.trim()) next.set("q", q.trim());
    if (postcode.trim()) next.set("postcode", postcode.trim());
    if (birth.trim()) next.set("birth", birth.trim());
    location.hash = `#/search?${next.toString()}`;
  };
  const read = q.trim() ? readQuery(q) : null;
  return (
    <main>
      <h1>Search</h1>
      <form class="search" onSubmit={submit} role="search">
        <input name="q" type="search" placeholder="e-mail, phone, name, profile id, or kind:value (customer_id:C123)" value={q} onInput={(e) => setQ(e.currentTarget.value)} autofocus />
        <input name="postcode" placeholder="postcode (optional)" value={postcode} onInput={(e) => setPostcode(e.currentTarget.value)} />
        <input name="birth" placeholder="birth date (optional)" value={birth} onInput={(e) => setBirth(e.currentTarget.value)} />
        <button type="submit" class="primary" disabled={!q.trim()}>Search</button>
      </form>
      {read && <p class="muted hint">Searching as {read.kind === "identifier" ? `identifier ${read.idKind}` : read.kind}.</p>}
      {params.get("q") ? <Results params={params} /> : <p class="muted">Find a person by what you know of them: an e-mail, a phone, a full name (with a postcode or birth date to narrow it), or a profile id.</p>}
    </main>
  );
}
