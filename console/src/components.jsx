// Pieces every page uses: loading data, showing errors, formatting, the confirm dialog.
import { useEffect, useRef, useState } from "preact/hooks";
import { gql } from "./api.js";

/** Run a query when `deps` change; `reload()` runs it again. */
export function useQuery(query, variables, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    gql(query, variables)
      .then((data) => live && setState({ data, error: null, loading: false }))
      .catch((error) => live && setState({ data: null, error, loading: false }));
    return () => { live = false; };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

export function Loading({ what }) {
  return <p class="loading">Loading {what}…</p>;
}

export function ErrorBox({ error }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error.code && error.code !== "ERROR" ? <strong>{error.code}: </strong> : null}
      {error.message}
    </p>
  );
}

export function refText(ref) {
  return `${ref.source}/${ref.key}`;
}

export function sameRef(x, y) {
  return x.source === y.source && x.key === y.key;
}

export function formatTime(value) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toISOString().replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC");
}

export function formatValue(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function formatNumber(value, digits = 2) {
  if (value === null || value === undefined) return "";
  return Number(value).toFixed(digits);
}

/** A person's display name from golden-record or record attributes. */
export function personName(attributes) {
  const get = (name) => {
    if (Array.isArray(attributes)) {
      const found = attributes.find((a) => a.name === name);
      return found ? found.value : null;
    }
    return attributes ? attributes[name] : null;
  };
  const parts = [get("first_name"), get("last_name")].filter((x) => x);
  return parts.length ? parts.join(" ") : get("full_name") || "(no name)";
}

/**
 * A steward action's dialog: says what will change, asks for a reason, and runs
 * `onConfirm(reason)` (a promise) only when the steward confirms. Escape cancels.
 */
export function ConfirmDialog({ title, confirmLabel, children, onConfirm, onClose, reasonRequired = true }) {
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const dialog = useRef(null);
  useEffect(() => {
    const node = dialog.current;
    if (node && !node.open) node.showModal();
    const cancel = (event) => { event.preventDefault(); onClose(); };
    node.addEventListener("cancel", cancel);
    return () => node.removeEventListener("cancel", cancel);
  }, []);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onConfirm(reason.trim());
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };
  const missing = reasonRequired && !reason.trim();
  return (
    <dialog ref={dialog} class="confirm" aria-labelledby="confirm-title">
      <form onSubmit={submit}>
        <h2 id="confirm-title">{title}</h2>
        <div class="what-changes">{children}</div>
        <label class="reason">
          Reason{reasonRequired ? " (required, kept in the audit log)" : " (kept in the audit log)"}
          <textarea name="reason" rows="3" value={reason} onInput={(e) => setReason(e.currentTarget.value)} autofocus />
        </label>
        <ErrorBox error={error} />
        <div class="buttons">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" class="primary" disabled={missing || busy}>{busy ? "Working…" : confirmLabel}</button>
        </div>
      </form>
    </dialog>
  );
}

/** The outcome of a steward mutation as a thrown error or the action's id and profiles. */
export function actionOutcome(result) {
  if (result.__typename === "StewardActionRefused") {
    const error = new Error(result.message);
    error.code = result.code;
    throw error;
  }
  return result;
}

export function Chip({ children, kind }) {
  return <span class={`chip ${kind || ""}`}>{children}</span>;
}
