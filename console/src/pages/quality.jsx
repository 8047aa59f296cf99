// The quality page: match weights, cluster sizes, links per matcher, the review queue over
// time and ingest warnings per source and field, as charts (Chart.js), from `quality`.
import {
  BarController, BarElement, CategoryScale, Chart, Legend, LineController, LineElement, LinearScale, PointElement, Tooltip,
} from "chart.js";
import { useEffect, useRef } from "preact/hooks";
import { ErrorBox, Loading, formatTime, useQuery } from "../components.jsx";
import { QUALITY, QUALITY_WEIGHTS } from "../queries.js";

Chart.register(BarController, BarElement, CategoryScale, Legend, LineController, LineElement, LinearScale, PointElement, Tooltip);

function ChartBox({ id, title, config, note }) {
  const canvas = useRef(null);
  useEffect(() => {
    const chart = new Chart(canvas.current, {
      ...config,
      options: { animation: false, responsive: true, maintainAspectRatio: false, ...config.options },
    });
    return () => chart.destroy();
  }, [JSON.stringify(config.data)]);
  return (
    <figure class="chart" data-testid={id}>
      <figcaption>{title}</figcaption>
      <div class="canvas"><canvas ref={canvas} aria-label={title} role="img" /></div>
      {note && <p class="muted">{note}</p>}
    </figure>
  );
}

const BLUE = "#2563eb";
const AMBER = "#f59e0b";
const GREY = "#9ca3af";

export function QualityPage() {
  const { data, error } = useQuery(QUALITY, {}, []);
  const weights = useQuery(QUALITY_WEIGHTS, {}, []);
  if (error) return <main><h1>Quality</h1><ErrorBox error={error} /></main>;
  if (!data) return <main><h1>Quality</h1><Loading what="the figures" /></main>;
  const q = data.quality;
  // The history's points are the queue after each change; "now" closes the line.
  const history = [...q.reviewQueueHistory.map((s) => ({ label: formatTime(s.at), size: s.size })), { label: "now", size: q.reviewQueueSize }];
  const axes = (x, y) => ({ scales: { x: { title: { display: true, text: x } }, y: { title: { display: true, text: y }, beginAtZero: true } } });
  return (
    <main class="quality">
      <h1>Quality</h1>
      <div class="tiles">
        <div class="tile"><strong data-testid="profiles-count">{q.profiles.toLocaleString()}</strong> profiles</div>
        <div class="tile"><strong>{q.records.toLocaleString()}</strong> records</div>
        <div class="tile"><strong>{q.profiles ? (q.records / q.profiles).toFixed(2) : "–"}</strong> records per profile</div>
        <div class="tile"><strong>{q.reviewQueueSize.toLocaleString()}</strong> pairs to review</div>
      </div>
      <div class="charts">
        {weights.error ? <ErrorBox error={weights.error} /> : !weights.data ? <Loading what="the match weights" /> : (
        <ChartBox id="chart-weights" title="Match weights of probabilistic links and review pairs"
          note="log2 odds: above the link threshold pairs link, between the thresholds they wait for review."
          config={{
            type: "bar",
            data: {
              labels: weights.data.quality.matchWeights.map((b) => `${b.from.toFixed(0)}…${b.to.toFixed(0)}`),
              datasets: [
                { label: "links", data: weights.data.quality.matchWeights.map((b) => b.links), backgroundColor: AMBER, stack: "w" },
                { label: "review pairs", data: weights.data.quality.matchWeights.map((b) => b.reviews), backgroundColor: GREY, stack: "w" },
              ],
            },
            options: axes("match weight", "pairs"),
          }} />
        )}
        <ChartBox id="chart-sizes" title="Cluster sizes"
          note="Profiles by their number of records; a long tail of large clusters is worth a look (Suspicious clusters)."
          config={{
            type: "bar",
            data: {
              labels: q.clusterSizes.map((b) => (b.from === b.to ? String(b.from) : `${b.from}+`)),
              datasets: [{ label: "profiles", data: q.clusterSizes.map((b) => b.profiles), backgroundColor: BLUE }],
            },
            options: { ...axes("records in the profile", "profiles"), plugins: { legend: { display: false } } },
          }} />
        <ChartBox id="chart-matchers" title="Links per matcher"
          config={{
            type: "bar",
            data: {
              labels: q.linksByMatcher.map((m) => `${m.matcher} · ${m.kind.toLowerCase().replace("_", "-")}`),
              datasets: [{ label: "links", data: q.linksByMatcher.map((m) => m.links), backgroundColor: BLUE }],
            },
            options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, title: { display: true, text: "links" } } } },
          }} />
        <ChartBox id="chart-queue" title="Review queue over time"
          note="A point after each load, link run and steward decision that changed the queue."
          config={{
            type: "line",
            data: {
              labels: history.map((s) => s.label),
              datasets: [{ label: "pairs waiting", data: history.map((s) => s.size), borderColor: GREY, backgroundColor: GREY, stepped: true }],
            },
            options: { ...axes("time", "pairs waiting"), plugins: { legend: { display: false } } },
          }} />
        <ChartBox id="chart-warnings" title="Ingest warnings per source and field"
          config={{
            type: "bar",
            data: {
              labels: q.ingestWarnings.map((w) => `${w.source} · ${w.field}`),
              datasets: [{ label: "warnings", data: q.ingestWarnings.map((w) => w.warnings), backgroundColor: AMBER }],
            },
            options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, title: { display: true, text: "rows with a warning on the field" } } } },
          }} />
      </div>
      <h2>Ingest warnings</h2>
      <table class="grid" data-testid="warnings">
        <thead><tr><th>Source</th><th>Field</th><th class="num">Warnings</th><th class="num">Loads</th></tr></thead>
        <tbody>
          {q.ingestWarnings.map((w) => (<tr><td>{w.source}</td><td>{w.field}</td><td class="num">{w.warnings}</td><td class="num">{w.loads}</td></tr>))}
        </tbody>
      </table>
    </main>
  );
}
