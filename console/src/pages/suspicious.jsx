// Suspicious clusters: profiles that look over-merged, with the signals that say why.
import { useState } from "preact/hooks";
import { Chip, ErrorBox, Loading, formatTime, useQuery } from "../components.jsx";
import { SUSPICIOUS } from "../queries.js";

export function SuspiciousPage() {
  const [refresh, setRefresh] = useState(false);
  const { data, error, reload } = useQuery(SUSPICIOUS, { after: null, refresh }, [refresh]);
  return (
    <main>
      <h1>Suspicious clusters</h1>
      <ErrorBox error={error} />
      {!data && !error && <Loading what="the ranking" />}
      {data && (() => {
        const page = data.suspiciousClusters;
        return (
          <>
            <p class="muted">
              {page.totalCount} of {page.profilesAnalysed} profiles show a signal · ranked {formatTime(page.computedAt)} · over {page.sizeThreshold} records counts as large{" "}
              <button onClick={() => (refresh ? reload() : setRefresh(true))}>Rank again</button>
            </p>
            <table class="grid" data-testid="suspicious">
              <thead><tr><th>#</th><th>Profile</th><th class="num">Score</th><th class="num">Records</th><th>Signals</th></tr></thead>
              <tbody>
                {page.nodes.map((n) => (
                  <tr key={n.profileId}>
                    <td>{n.rank}</td>
                    <td><a href={`#/profile/${n.profileId}`}>{n.profileId}</a></td>
                    <td class="num">{n.score.toFixed(2)}</td>
                    <td class="num">{n.size}</td>
                    <td>{n.reasons.map((r) => <div><Chip kind="warn">{r.type}</Chip> {r.message}</div>)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        );
      })()}
    </main>
  );
}
