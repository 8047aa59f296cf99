// After a steward action: what happened, and a way back (undo, with its own reason).
import { useState } from "preact/hooks";
import { gql } from "./api.js";
import { ConfirmDialog, actionOutcome } from "./components.jsx";
import { UNDO } from "./queries.js";

export function UndoDialog({ actionId, onUndone, onClose }) {
  return (
    <ConfirmDialog title={`Undo action #${actionId}`} confirmLabel="Undo" onClose={onClose}
      onConfirm={async (reason) => onUndone(actionOutcome((await gql(UNDO, { id: actionId, reason })).undo))}>
      <p>The links the action added are removed and those it removed come back; the profiles re-resolve. The undo is audited too, and can itself be undone.</p>
    </ConfirmDialog>
  );
}

export function UndoToast({ result, onUndone, onClose }) {
  const [asking, setAsking] = useState(false);
  return (
    <div class="toast" role="status" data-testid="action-done">
      <span>
        {result.undone ? "Undone" : "Done"}: action <strong>#{result.actionId}</strong>
        {result.profileIds.length ? <> · profiles {result.profileIds.map((p) => <a href={`#/profile/${p}`}>{p}</a>)}</> : null}
      </span>
      <button onClick={() => setAsking(true)}>Undo</button>
      <button class="link" onClick={onClose} aria-label="Dismiss">×</button>
      {asking && <UndoDialog actionId={result.actionId} onClose={() => setAsking(false)} onUndone={(r) => { setAsking(false); onUndone(r); }} />}
    </div>
  );
}
