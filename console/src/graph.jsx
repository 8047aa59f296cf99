// The cluster drawn as a graph: records and identifiers as nodes; deterministic,
// probabilistic, review and steward links styled apart, probabilistic ones with weights.
import cytoscape from "cytoscape";
import { useEffect, useRef } from "preact/hooks";
import { refText } from "./components.jsx";

const SOURCE_COLOURS = ["#2563eb", "#db2777", "#059669", "#d97706", "#7c3aed", "#0891b2", "#65a30d", "#dc2626"];

/** What kind of line a link is drawn with: its class in the stylesheet below. */
export function linkStyle(link) {
  if (link.type === "MUST_LINK") return "must";
  if (link.type === "CANNOT_LINK") return "cannot";
  if (link.type === "REVIEW") return "review";
  return link.identifier ? "deterministic" : "probabilistic";
}

export function linkLabel(link) {
  const style = linkStyle(link);
  if (style === "deterministic") return link.identifier.kind;
  if (link.matchWeight !== null && link.matchWeight !== undefined) return link.matchWeight.toFixed(1);
  return style === "must" ? "must-link" : style === "cannot" ? "cannot-link" : "";
}

/** Long keys and values (stitching records, device ids) shortened for the drawing only. */
function short(text, most) {
  return text.length > most ? `${text.slice(0, most - 1)}…` : text;
}

function elementsOf(cluster, showIdentifiers) {
  const sources = [...new Set(cluster.records.map((r) => r.source))].sort();
  const colour = (source) => SOURCE_COLOURS[sources.indexOf(source) % SOURCE_COLOURS.length];
  const elements = cluster.records.map((record) => ({
    group: "nodes",
    data: { id: `r:${refText(record)}`, label: `${record.source}\n${short(record.key, 16)}`, colour: colour(record.source), ref: { source: record.source, key: record.key } },
    classes: "record",
  }));
  const shown = new Set(elements.map((e) => e.data.id));
  if (showIdentifiers) {
    for (const identifier of cluster.identifiers) {
      const id = `i:${identifier.kind}:${identifier.value}`;
      const label = `${identifier.kind}\n${short(identifier.value, 22)}`;
      const longest = Math.max(...label.split("\n").map((line) => line.length));
      elements.push({
        group: "nodes",
        data: { id, label, w: longest * 6.5 + 12 },
        classes: identifier.links ? "identifier" : "identifier not-linking",
      });
      for (const ref of identifier.records) {
        const end = `r:${refText(ref)}`;
        if (shown.has(end)) elements.push({ group: "edges", data: { id: `h:${id}:${end}`, source: end, target: id }, classes: "has" });
      }
    }
  }
  const links = cluster.links;
  links.forEach((link, index) => {
    const a = `r:${refText(link.a)}`;
    const b = `r:${refText(link.b)}`;
    if (!shown.has(a) || !shown.has(b)) return;
    elements.push({
      group: "edges",
      data: { id: `l:${index}`, source: a, target: b, label: linkLabel(link), index, width: link.matchWeight ? Math.min(1 + Math.abs(link.matchWeight) / 4, 7) : 2 },
      classes: `link ${linkStyle(link)}`,
    });
  });
  return elements;
}

const STYLE = [
  { selector: "node.record", style: { "background-color": "data(colour)", label: "data(label)", "text-wrap": "wrap", "font-size": 15, "text-valign": "bottom", "text-margin-y": 4, width: 30, height: 30, color: "#111827" } },
  { selector: "node.identifier", style: { shape: "round-rectangle", "background-color": "#e5e7eb", "border-color": "#9ca3af", "border-width": 1, label: "data(label)", "text-wrap": "wrap", "font-size": 11, "text-valign": "center", "text-max-width": 170, color: "#374151", width: "data(w)", height: 28 } },
  { selector: "node.not-linking", style: { "border-style": "dashed", "background-color": "#fef3c7" } },
  { selector: "node:selected", style: { "border-width": 3, "border-color": "#111827" } },
  { selector: "edge", style: { "curve-style": "bezier", "font-size": 13, "text-background-color": "#ffffff", "text-background-opacity": 0.85, "text-background-padding": 1 } },
  { selector: "edge.has", style: { width: 1, "line-color": "#d1d5db" } },
  { selector: "edge.link", style: { label: "data(label)", width: "data(width)" } },
  { selector: "edge.deterministic", style: { "line-color": "#2563eb", width: 2 } },
  { selector: "edge.probabilistic", style: { "line-color": "#f59e0b", "line-style": "dashed" } },
  { selector: "edge.review", style: { "line-color": "#9ca3af", "line-style": "dotted" } },
  { selector: "edge.must", style: { "line-color": "#16a34a", width: 4 } },
  { selector: "edge.cannot", style: { "line-color": "#dc2626", width: 3, "line-style": "dashed", "target-arrow-shape": "tee", "source-arrow-shape": "tee", "target-arrow-color": "#dc2626", "source-arrow-color": "#dc2626" } },
  { selector: "edge:selected", style: { "line-color": "#111827", "overlay-opacity": 0.15, "overlay-color": "#111827" } },
];

/** The graph; calls `onLink(link)` when a link is clicked and `onRecord(ref)` on a record. */
export function ClusterGraph({ cluster, showIdentifiers, onLink, onRecord }) {
  const container = useRef(null);
  const handlers = useRef({ onLink, onRecord });
  handlers.current = { onLink, onRecord };
  useEffect(() => {
    const links = cluster.links;
    const cy = cytoscape({
      container: container.current,
      elements: elementsOf(cluster, showIdentifiers),
      style: STYLE,
      layout: { name: "preset" },
      minZoom: 0.2,
      maxZoom: 3,
    });
    // Records on an inner ring, identifiers around them: links between records are chords
    // a steward can click, and the drawing is the same every time (no random start).
    cy.layout({
      name: "concentric", animate: false, padding: 16, minNodeSpacing: 16, startAngle: Math.PI / 2,
      concentric: (node) => (node.hasClass("record") ? 2 : 1), levelWidth: () => 1,
      sort: (x, y) => x.id().localeCompare(y.id()),
    }).run();
    cy.on("tap", "edge.link", (event) => handlers.current.onLink(links[event.target.data("index")]));
    cy.on("tap", "node.record", (event) => handlers.current.onRecord(event.target.data("ref")));
    window.idgraphConsole = { ...(window.idgraphConsole || {}), cy };
    return () => cy.destroy();
  }, [cluster, showIdentifiers]);
  return <div class="graph" id="cluster-graph" ref={container} data-testid="cluster-graph" />;
}

export function GraphLegend() {
  return (
    <p class="legend">
      <span class="key deterministic" /> deterministic (shared identifier)
      <span class="key probabilistic" /> probabilistic (match weight)
      <span class="key review" /> review pair
      <span class="key must" /> steward must-link
      <span class="key cannot" /> steward cannot-link
    </p>
  );
}
