// The audit log, newest first, with undo for steward actions not yet undone.
import { useState } from "preact/hooks";
import { gql } from "../api.js";
import { ErrorBox, Loading, formatTime, useQuery } from "../components.jsx";
import { AUDIT } from "../queries.js";
import { UndoDialog } from "../undo.jsx";

const UNDOABLE = new Set(["merge_profiles", "split_profile", "separate_records", "accept_match", "reject_match", "undo"]);
const ACTIONS = ["", ...UNDOABLE, "ingest", "link", "define_segment", "erase_person", "access-export"];

export function AuditPage({ viewer }) {
  const [action, setAction] = useState("");
  const [pages, setPages] = useState([]);
  const [undoing, setUndoing] = useState(null);
  const [error, setError] = useState(null);
  const { data, error: loadError, reload } = useQuery(AUDIT, { after: null, action: action || null }, [action]);
  if (loadError) return <main><h1>Audit log</h1><ErrorBox error={loadError} /></main>;
  if (!data) return <main><h1>Audit log</h1><Loading what="the audit log" /></main>;
  const all = [data.auditLog, ...pages];
  const last = all[all.length - 1];
  const more = () => gql(AUDIT, { after: last.pageInfo.endCursor, action: action || null })
    .then((d) => setPages([...pages, d.auditLog])).catch(setError);
  return (
    <main>
      <h1>Audit log</h1>
      <label>Action{" "}
        <select name="action" value={action} onChange={(e) => { setPages([]); setAction(e.currentTarget.value); }}>
          {ACTIONS.map((a) => <option value={a}>{a || "every action"}</option>)}
        </select>
      </label>
      <ErrorBox error={error} />
      <table class="grid" data-testid="audit">
        <thead><tr><th>#</th><th>When</th><th>Who</th><th>Action</th><th>Target</th><th>Reason</th><th /></tr></thead>
        <tbody>
          {all.flatMap((p) => p.nodes).map((entry) => (
            <tr key={entry.id}>
              <td>{entry.id}</td>
              <td>{formatTime(entry.at)}</td>
              <td>{entry.actor}</td>
              <td>{entry.action}{entry.undoes ? ` of #${entry.undoes}` : ""}{entry.undoneBy ? <span class="muted"> (undone by #{entry.undoneBy})</span> : ""}</td>
              <td class="target">{entry.target}</td>
              <td>{entry.reason}</td>
              <td>{viewer.canAct && UNDOABLE.has(entry.action) && !entry.undoneBy && <button onClick={() => setUndoing(entry.id)}>Undo…</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {last.pageInfo.hasNextPage && <button onClick={more}>Older entries</button>}
      {undoing && <UndoDialog actionId={undoing} onClose={() => setUndoing(null)} onUndone={() => { setUndoing(null); setPages([]); reload(); }} />}
    </main>
  );
}
