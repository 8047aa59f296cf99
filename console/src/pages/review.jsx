// The review queue, most probable first: accept (a) or reject (r) with one key, next (j)
// and previous (k); every decision is a steward action that can be undone.
import { useEffect, useRef, useState } from "preact/hooks";
import { gql } from "../api.js";
import { ErrorBox, Loading, actionOutcome, formatNumber, formatTime, formatValue, refText, sameRef, useQuery } from "../components.jsx";
import { Contributions } from "../explain.jsx";
import { ACCEPT, RECORDS_OF, REJECT, REVIEW_QUEUE } from "../queries.js";
import { UndoToast } from "../undo.jsx";

/** The matcher's evidence JSON as contributions, strongest first. */
function contributionsOf(evidence) {
  const fields = (evidence && evidence.fields) || {};
  return Object.entries(fields)
    .map(([field, f]) => ({ field, level: f.level, weight: f.weight }))
    .filter((c) => c.level !== "missing")
    .sort((x, y) => Math.abs(y.weight) - Math.abs(x.weight));
}

// `at`, not `ref`: Preact keeps a prop named ref for itself.
function RecordCard({ title, at, profileId, records }) {
  const record = records && records.find((r) => sameRef(r, at));
  return (
    <article class="record review-record">
      <h3>{title}: <code>{refText(at)}</code></h3>
      <p class="muted">{profileId ? <>in profile <a href={`#/profile/${profileId}`}>{profileId}</a></> : "in no profile"}{record && record.timestamp ? ` · ${formatTime(record.timestamp)}` : ""}</p>
      {record ? (
        <dl>
          {Object.entries(record.attributes).map(([name, value]) => (<><dt>{name}</dt><dd>{formatValue(value)}</dd></>))}
          {record.identifiers.map((i) => (<><dt>{i.kind}</dt><dd>{i.value}</dd></>))}
        </dl>
      ) : <Loading what="the record" />}
    </article>
  );
}

function Pair({ item }) {
  const { data, error } = useQuery(RECORDS_OF, { a: item.profileA || "", b: item.profileB || "" }, [item.profileA, item.profileB]);
  const records = data ? [...(data.a ? data.a.records : []), ...(data.b ? data.b.records : [])] : null;
  return (
    <div class="pair" data-testid="review-pair">
      <p class="pair-head">
        <strong>Probability {formatNumber(item.probability, 3)}</strong> · match weight {formatNumber(item.weight)} · {item.reason}
      </p>
      {item.duplicateAccount && (
        <p class="warn">Possibly duplicate accounts in {item.duplicateAccount.source} ({item.duplicateAccount.kinds.join(", ")}); against: {item.duplicateAccount.countsAgainst.join(", ") || "nothing"}</p>
      )}
      <ErrorBox error={error} />
      <div class="two">
        <RecordCard title="A" at={item.a} profileId={item.profileA} records={records} />
        <RecordCard title="B" at={item.b} profileId={item.profileB} records={records} />
      </div>
      <Contributions contributions={contributionsOf(item.evidence)} />
    </div>
  );
}

export function ReviewPage({ viewer }) {
  const [queue, setQueue] = useState({ items: [], total: 0, end: null, more: false, loaded: false });
  const [index, setIndex] = useState(0);
  const [error, setError] = useState(null);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(null);
  const [epoch, setEpoch] = useState(0);

  const load = (after, keep) => gql(REVIEW_QUEUE, { after })
    .then(({ reviewQueue }) => setQueue({
      items: [...keep, ...reviewQueue.nodes],
      total: reviewQueue.totalCount,
      end: reviewQueue.pageInfo.endCursor,
      more: reviewQueue.pageInfo.hasNextPage,
      loaded: true,
    }))
    .catch(setError);

  useEffect(() => { setIndex(0); load(null, []); }, [epoch]);

  const item = queue.items[index];
  const go = (step) => {
    const next = Math.max(0, Math.min(queue.items.length - 1, index + step));
    setIndex(next);
    if (next >= queue.items.length - 5 && queue.more) load(queue.end, queue.items);
  };
  const decide = async (accept) => {
    if (!item || busy || !viewer.canAct) return;
    setBusy(true);
    setError(null);
    try {
      const variables = { a: item.a, b: item.b, reason: reason.trim() || "review queue" };
      const data = await gql(accept ? ACCEPT : REJECT, variables);
      const result = actionOutcome(accept ? data.acceptMatch : data.rejectMatch);
      setDone({ ...result, decision: accept ? "accepted" : "rejected" });
      const items = queue.items.filter((_, n) => n !== index);
      setQueue({ ...queue, items, total: queue.total - 1 });
      setIndex(Math.min(index, Math.max(0, items.length - 1)));
      if (items.length - index < 5 && queue.more) load(queue.end, items);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  // The keys act on the pair on screen: the listener reads this render's handlers through a
  // ref set while rendering. Re-registering the listener in an effect left a gap after each
  // render (effects run after the paint) in which a key acted on the pair shown before: an
  // "a" pressed just after "k" accepted the pair below the one on screen.
  const keys = useRef({ decide, go });
  keys.current = { decide, go };
  useEffect(() => {
    const key = (event) => {
      const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(event.target.tagName) || document.querySelector("dialog[open]");
      if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
      const { decide, go } = keys.current;
      if (event.key === "a") decide(true);
      else if (event.key === "r") decide(false);
      else if (event.key === "j" || event.key === "ArrowDown") go(1);
      else if (event.key === "k" || event.key === "ArrowUp") go(-1);
      else return;
      event.preventDefault();
    };
    addEventListener("keydown", key);
    return () => removeEventListener("keydown", key);
  }, []);

  return (
    <main class="review">
      <h1>Review queue</h1>
      <p class="muted">
        Pairs the matcher was unsure of, most probable first. Keys: <kbd>a</kbd> accept (one person), <kbd>r</kbd> reject (two people),{" "}
        <kbd>j</kbd>/<kbd>↓</kbd> next, <kbd>k</kbd>/<kbd>↑</kbd> previous.
      </p>
      <ErrorBox error={error} />
      {done && <UndoToast result={done} onUndone={() => { setDone(null); setEpoch(epoch + 1); }} onClose={() => setDone(null)} />}
      {!queue.loaded && !error && <Loading what="the queue" />}
      {queue.loaded && (
        <>
          <div class="review-bar">
            <span data-testid="review-position">{queue.items.length ? `Pair ${index + 1} of ${queue.total}` : "The queue is empty."}</span>
            <button onClick={() => go(-1)} disabled={index === 0}>Previous (k)</button>
            <button onClick={() => go(1)} disabled={index >= queue.items.length - 1}>Next (j)</button>
            {viewer.canAct && (
              <>
                <input name="reason" placeholder="reason for decisions (optional)" value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
                <button class="primary" onClick={() => decide(true)} disabled={!item || busy}>Accept (a)</button>
                <button class="danger" onClick={() => decide(false)} disabled={!item || busy}>Reject (r)</button>
              </>
            )}
          </div>
          {item && <Pair key={`${refText(item.a)}|${refText(item.b)}`} item={item} />}
        </>
      )}
    </main>
  );
}
