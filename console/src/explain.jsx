// A link's explanation: which fields agreed, each one's contribution (the matcher's own
// evidence), or the shared identifier of a deterministic link.
import { Chip, formatNumber, refText } from "./components.jsx";
import { linkStyle } from "./graph.jsx";

const STYLE_NAMES = {
  deterministic: "deterministic match",
  probabilistic: "probabilistic match",
  review: "review pair (undecided)",
  must: "steward must-link",
  cannot: "steward cannot-link",
};

export function Contributions({ contributions }) {
  if (!contributions || contributions.length === 0) return null;
  const largest = Math.max(1, ...contributions.map((c) => Math.abs(c.weight)));
  return (
    <table class="contributions" data-testid="contributions">
      <thead><tr><th>Field</th><th>Level</th><th class="num">Weight</th><th /></tr></thead>
      <tbody>
        {contributions.map((c) => (
          <tr key={c.field}>
            <td>{c.field}</td>
            <td>{c.level}</td>
            <td class="num">{formatNumber(c.weight)}</td>
            <td class="bar-cell">
              <span class={`bar ${c.weight < 0 ? "against" : "for"}`} style={{ width: `${(Math.abs(c.weight) / largest) * 100}%` }} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function LinkExplanation({ link, onClose }) {
  const style = linkStyle(link);
  return (
    <section class="explanation" data-testid="link-explanation" aria-live="polite">
      <header>
        <h3>Why this link</h3>
        <button class="link" onClick={onClose} aria-label="Close the explanation">×</button>
      </header>
      <p>
        <Chip kind={style}>{STYLE_NAMES[style]}</Chip> between <code>{refText(link.a)}</code> and <code>{refText(link.b)}</code>
        {link.otherProfileId ? <> (in profile <a href={`#/profile/${link.otherProfileId}`}>{link.otherProfileId}</a>)</> : null}
      </p>
      <dl class="facts">
        <dt>Matcher</dt><dd>{link.matcher}</dd>
        {link.identifier && (<><dt>Shared identifier</dt><dd><code>{link.identifier.kind}: {link.identifier.value}</code></dd></>)}
        {link.matchWeight != null && (<><dt>Match weight</dt><dd>{formatNumber(link.matchWeight)} (log2 odds)</dd></>)}
        {link.probability != null && (<><dt>Probability</dt><dd>{formatNumber(link.probability, 4)}</dd></>)}
      </dl>
      <Contributions contributions={link.contributions} />
    </section>
  );
}
