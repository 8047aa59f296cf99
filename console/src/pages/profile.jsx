// A profile: golden record with provenance, identifiers, records by source, the cluster
// graph with link explanations, journey, segments and consent, and the steward's actions.
import { useState } from "preact/hooks";
import { gql } from "../api.js";
import {
  Chip, ConfirmDialog, ErrorBox, Loading, actionOutcome, formatTime, formatValue, personName, refText, sameRef, useQuery,
} from "../components.jsx";
import { LinkExplanation } from "../explain.jsx";
import { ClusterGraph, GraphLegend } from "../graph.jsx";
import { EXPLAIN, JOURNEY_PAGE, MERGE, PROFILE, PROFILE_SUMMARY, SEPARATE, SPLIT } from "../queries.js";
import { UndoToast } from "../undo.jsx";

function GoldenRecord({ attributes }) {
  return (
    <table class="grid" data-testid="golden-record">
      <thead><tr><th>Attribute</th><th>Value</th><th>From</th><th>Rule</th></tr></thead>
      <tbody>
        {attributes.map((a) => (
          <tr key={a.name}>
            <td>{a.name}</td>
            <td class="value">{formatValue(a.value)}</td>
            <td><code>{a.provenance.source}/{a.provenance.recordKey}</code>{a.provenance.timestamp ? <span class="muted"> {formatTime(a.provenance.timestamp)}</span> : null}</td>
            <td class="muted">{a.rule}{a.candidates > 1 ? ` (of ${a.candidates})` : ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Identifiers({ identifiers, cluster }) {
  const reasons = new Map(cluster.identifiers.map((i) => [`${i.kind}:${i.value}`, i.notLinkingReason]));
  return (
    <table class="grid" data-testid="identifiers">
      <thead><tr><th>Kind</th><th>Value</th><th>Records</th><th>Links</th></tr></thead>
      <tbody>
        {identifiers.map((i) => (
          <tr key={`${i.kind}:${i.value}`}>
            <td>{i.kind}</td>
            <td class="value">{i.value}</td>
            <td class="num">{i.recordCount}</td>
            <td>{i.links ? "yes" : <span class="warn" title={reasons.get(`${i.kind}:${i.value}`) || ""}>no: {reasons.get(`${i.kind}:${i.value}`) || "does not link"}</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function RecordsBySource({ records, selected, onToggle, canAct }) {
  const bySource = new Map();
  for (const record of records) {
    if (!bySource.has(record.source)) bySource.set(record.source, []);
    bySource.get(record.source).push(record);
  }
  return (
    <div class="records" data-testid="records">
      {[...bySource.entries()].map(([source, list]) => (
        <section class="source" key={source}>
          <h3>{source} <span class="muted">({list.length})</span></h3>
          {list.map((record) => {
            const ref = refText(record);
            const isSelected = selected.some((s) => sameRef(s, record));
            return (
              <article class={`record ${isSelected ? "selected" : ""}`} key={ref}>
                <label>
                  {canAct && <input type="checkbox" data-record={ref} checked={isSelected} onChange={() => onToggle(record)} />}
                  <code>{record.key}</code>
                  {record.timestamp ? <span class="muted"> {formatTime(record.timestamp)}</span> : null}
                </label>
                <dl>
                  {Object.entries(record.attributes).map(([name, value]) => (<><dt>{name}</dt><dd>{formatValue(value)}</dd></>))}
                  {record.identifiers.map((i) => (<><dt>{i.kind}</dt><dd>{i.value}</dd></>))}
                </dl>
              </article>
            );
          })}
        </section>
      ))}
    </div>
  );
}

function Journey({ id, first }) {
  const [pages, setPages] = useState([first]);
  const [error, setError] = useState(null);
  const last = pages[pages.length - 1];
  const more = () => gql(JOURNEY_PAGE, { id, after: last.pageInfo.endCursor })
    .then((data) => setPages([...pages, data.profile.journey]))
    .catch(setError);
  const events = pages.flatMap((p) => p.nodes);
  if (events.length === 0) return <p class="muted">No events.</p>;
  return (
    <>
      <ol class="timeline" data-testid="journey">
        {events.map((e) => (
          <li key={e.id}>
            <time>{formatTime(e.timestamp)}</time>
            <strong>{e.type}</strong>
            {e.channel ? <Chip>{e.channel}</Chip> : null}
            {e.source ? <span class="muted"> from {e.source}</span> : null}
            {Object.keys(e.properties || {}).length ? <span class="props"> {formatValue(e.properties)}</span> : null}
          </li>
        ))}
      </ol>
      <ErrorBox error={error} />
      {last.pageInfo.hasNextPage && <button onClick={more}>Older events</button>}
    </>
  );
}

function Consent({ consent }) {
  if (consent.length === 0) return <p class="muted">No consent statements.</p>;
  return (
    <table class="grid" data-testid="consent">
      <thead><tr><th>Purpose</th><th>Granted</th><th>When</th><th>Source</th></tr></thead>
      <tbody>
        {consent.map((c) => (
          <tr key={c.purpose}><td>{c.purpose}</td><td>{c.granted ? "yes" : "no"}</td><td>{formatTime(c.at)}</td><td>{c.source || c.via}</td></tr>
        ))}
      </tbody>
    </table>
  );
}

/** Which path of evidence joins two selected records (explainLink). */
function PathExplanation({ a, b, onClose }) {
  const { data, error } = useQuery(EXPLAIN, { a, b }, [refText(a), refText(b)]);
  return (
    <section class="explanation" data-testid="path-explanation">
      <header><h3>Why {refText(a)} and {refText(b)} are one person</h3><button class="link" onClick={onClose}>×</button></header>
      <ErrorBox error={error} />
      {!data && !error && <Loading what="the path" />}
      {data && data.explainLink.__typename !== "LinkExplained" && <p>{data.explainLink.message}</p>}
      {data && data.explainLink.paths && data.explainLink.paths.map((path, n) => (
        <ol class="path" key={n}>
          <p class="muted">{n === 0 ? "Shortest path" : "Another path"}: {path.length} hop{path.length === 1 ? "" : "s"}</p>
          {path.hops.map((hop) => (
            <li>
              <code>{refText(hop.from)}</code> → <code>{refText(hop.to)}</code>:{" "}
              {hop.evidence.map((e) => (
                <Chip kind={e.identifier ? "deterministic" : "probabilistic"}>
                  {e.identifier ? `${e.identifier.kind} ${e.identifier.value}` : `${e.matcher} ${e.matchWeight != null ? e.matchWeight.toFixed(1) : ""}`}
                </Chip>
              ))}
            </li>
          ))}
        </ol>
      ))}
    </section>
  );
}

function MergeTarget({ id, other }) {
  const { data, error } = useQuery(PROFILE_SUMMARY, { id: other }, [other]);
  if (error) return <ErrorBox error={error} />;
  if (!data) return <Loading what="the other profile" />;
  if (!data.profile) return <p class="error">No profile {other}.</p>;
  return (
    <p>
      Profile <code>{data.profile.id}</code> ({personName(data.profile.attributes)}, {data.profile.records.length} records) joins{" "}
      <code>{id}</code> for good: a steward must-link the matchers cannot undo. The older id survives; the other keeps resolving to it.
    </p>
  );
}

function Actions({ profile, cluster, selected, clear, onDone }) {
  const [dialog, setDialog] = useState(null);
  const [mergeWith, setMergeWith] = useState("");
  const rest = cluster.records.filter((r) => !selected.some((s) => sameRef(s, r)));
  const refs = (list) => list.map((r) => ({ source: r.source, key: r.key }));
  const run = async (mutation, variables, field) => {
    const data = await gql(mutation, variables);
    const done = actionOutcome(data[field]);
    setDialog(null);
    clear();
    onDone(done);
  };
  const canSplit = selected.length > 0 && rest.length > 0 && !cluster.truncated;
  return (
    <div class="actions" data-testid="actions">
      <button onClick={() => setDialog("split")} disabled={!canSplit} title="Select the records that are another person">Split selected…</button>
      <button onClick={() => setDialog("separate")} disabled={selected.length !== 2} title="Select exactly two records">Separate two records…</button>
      <span class="merge">
        <input name="merge-with" placeholder="other profile id" value={mergeWith} onInput={(e) => setMergeWith(e.currentTarget.value.trim())} />
        <button onClick={() => setDialog("merge")} disabled={!mergeWith || mergeWith === profile.id}>Merge…</button>
      </span>
      <span class="muted">{selected.length} record{selected.length === 1 ? "" : "s"} selected</span>
      {dialog === "split" && (
        <ConfirmDialog title="Split this profile" confirmLabel="Split" onClose={() => setDialog(null)}
          onConfirm={(reason) => run(SPLIT, { id: profile.id, groups: [refs(selected), refs(rest)], reason }, "splitProfile")}>
          <p>The profile becomes two. The larger part keeps <code>{profile.id}</code>; the other gets a new id. Steward cannot-links keep the parts apart.</p>
          <div class="two">
            <div><h4>Moved out ({selected.length})</h4><ul>{selected.map((r) => <li><code>{refText(r)}</code></li>)}</ul></div>
            <div><h4>Stays ({rest.length})</h4><ul>{rest.map((r) => <li><code>{refText(r)}</code></li>)}</ul></div>
          </div>
        </ConfirmDialog>
      )}
      {dialog === "separate" && (
        <ConfirmDialog title="Separate two records" confirmLabel="Separate" onClose={() => setDialog(null)}
          onConfirm={(reason) => run(SEPARATE, { a: refs(selected)[0], b: refs(selected)[1], reason }, "separateRecords")}>
          <p>A cannot-link between <code>{refText(selected[0])}</code> and <code>{refText(selected[1])}</code>: every later matching keeps them in different profiles. If nothing else holds the profile together, it splits.</p>
        </ConfirmDialog>
      )}
      {dialog === "merge" && (
        <ConfirmDialog title="Merge two profiles" confirmLabel="Merge" onClose={() => setDialog(null)}
          onConfirm={(reason) => run(MERGE, { ids: [profile.id, mergeWith], reason }, "mergeProfiles")}>
          <MergeTarget id={profile.id} other={mergeWith} />
        </ConfirmDialog>
      )}
    </div>
  );
}

export function ProfilePage({ id, viewer }) {
  const { data, error, reload } = useQuery(PROFILE, { id }, [id]);
  const [link, setLink] = useState(null);
  const [selected, setSelected] = useState([]);
  const [path, setPath] = useState(null);
  const [showIdentifiers, setShowIdentifiers] = useState(true);
  const [done, setDone] = useState(null);
  if (error) return <main><h1>Profile {id}</h1><ErrorBox error={error} /></main>;
  if (!data) return <main><Loading what="the profile" /></main>;
  const { profile, cluster } = data;
  if (!profile) return <main><h1>Profile {id}</h1><p class="error">No such profile.</p></main>;
  if (profile.id !== id) {
    // A merged id resolves to the survivor: show it under its own address.
    location.replace(`#/profile/${profile.id}`);
    return null;
  }
  const toggle = (record) => {
    const ref = { source: record.source, key: record.key };
    setSelected(selected.some((s) => sameRef(s, ref)) ? selected.filter((s) => !sameRef(s, ref)) : [...selected, ref]);
  };
  const afterAction = (result) => {
    setDone(result);
    setLink(null);
    setPath(null);
    if (!result.profileIds.includes(id) && result.profileIds.length) location.hash = `#/profile/${result.profileIds[0]}`;
    else reload();
  };
  const sources = [...new Set(cluster.records.map((r) => r.source))];
  return (
    <main class="profile">
      <header class="page-head">
        <div>
          <h1>{personName(profile.attributes)}</h1>
          <p class="muted"><code data-testid="profile-id">{profile.id}</code> · {cluster.size} records from {sources.length} source{sources.length === 1 ? "" : "s"} · created {formatTime(profile.createdAt)} · updated {formatTime(profile.updatedAt)}</p>
          {profile.mergedFrom.length > 0 && <p class="muted">Merged from {profile.mergedFrom.join(", ")}</p>}
          {profile.splitFrom && <p class="muted">Split from <a href={`#/profile/${profile.splitFrom}`}>{profile.splitFrom}</a></p>}
        </div>
        {cluster.suspicion.score > 0 && (
          <div class="suspicion" data-testid="suspicion">
            <strong>Suspicion {cluster.suspicion.score.toFixed(2)}</strong>
            <ul>{cluster.suspicion.reasons.map((r) => <li><Chip kind="warn">{r.type}</Chip> {r.message}</li>)}</ul>
          </div>
        )}
      </header>
      {done && <UndoToast result={done} onUndone={(r) => { setDone(null); afterAction({ ...r, undone: true }); }} onClose={() => setDone(null)} />}
      <section class="cluster">
        <div class="graph-pane">
          <div class="graph-tools">
            <h2>Cluster</h2>
            <label><input type="checkbox" checked={showIdentifiers} onChange={() => setShowIdentifiers(!showIdentifiers)} /> identifiers</label>
            {selected.length === 2 && <button onClick={() => setPath(selected)}>Why are these two one person?</button>}
            {cluster.truncated && <span class="warn">Only the first records are shown.</span>}
          </div>
          <ClusterGraph cluster={cluster} showIdentifiers={showIdentifiers} onLink={(l) => { setLink(l); setPath(null); }} onRecord={toggle} />
          <GraphLegend />
        </div>
        <div class="side">
          {link && <LinkExplanation link={link} onClose={() => setLink(null)} />}
          {path && <PathExplanation a={path[0]} b={path[1]} onClose={() => setPath(null)} />}
          {!link && !path && <p class="muted hint">Click a link in the graph to see why the matcher made it; click records (or tick them below) to select them for an action.</p>}
          <h2>Golden record</h2>
          <GoldenRecord attributes={profile.attributes} />
        </div>
      </section>
      {viewer.canAct && <Actions profile={profile} cluster={cluster} selected={selected} clear={() => setSelected([])} onDone={afterAction} />}
      <section>
        <h2>Links</h2>
        <table class="grid" data-testid="links">
          <thead><tr><th>Records</th><th>Kind</th><th>Matcher</th><th class="num">Weight</th><th /></tr></thead>
          <tbody>
            {[...cluster.links, ...cluster.externalLinks].map((l, n) => (
              <tr key={n} class={link === l ? "selected" : ""}>
                <td><code>{refText(l.a)}</code> – <code>{refText(l.b)}</code>{l.otherProfileId ? <span class="muted"> (other profile)</span> : null}</td>
                <td>{l.identifier ? `shared ${l.identifier.kind}` : l.type.toLowerCase().replace("_", "-")}</td>
                <td>{l.matcher}</td>
                <td class="num">{l.matchWeight != null ? l.matchWeight.toFixed(2) : ""}</td>
                <td><button class="link" onClick={() => setLink(l)}>Explain</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section>
        <h2>Records by source</h2>
        <RecordsBySource records={cluster.records} selected={selected} onToggle={toggle} canAct={viewer.canAct} />
      </section>
      <section class="columns">
        <div>
          <h2>Identifiers</h2>
          <Identifiers identifiers={profile.identifiers} cluster={cluster} />
          <h2>Segments</h2>
          <p data-testid="segments">{profile.segments.length ? profile.segments.map((s) => <Chip>{s}</Chip>) : <span class="muted">In no segment.</span>}</p>
          <h2>Consent</h2>
          <Consent consent={profile.consent} />
          {profile.traits && (
            <>
              <h2>Traits</h2>
              <dl class="facts">
                <dt>Events</dt><dd>{profile.traits.events}</dd>
                <dt>Orders</dt><dd>{profile.traits.orders} ({profile.traits.orderValue.toFixed(2)})</dd>
                <dt>First seen</dt><dd>{formatTime(profile.traits.firstSeen)}</dd>
                <dt>Last seen</dt><dd>{formatTime(profile.traits.lastSeen)}</dd>
              </dl>
            </>
          )}
        </div>
        <div>
          <h2>Journey</h2>
          <Journey id={profile.id} first={profile.journey} />
        </div>
      </section>
    </main>
  );
}
