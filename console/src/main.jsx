// The steward console: a hash-routed Preact page over the GraphQL API.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, getToken, gql, setToken } from "./api.js";
import { VIEWER } from "./queries.js";
import { AuditPage } from "./pages/audit.jsx";
import { ProfilePage } from "./pages/profile.jsx";
import { QualityPage } from "./pages/quality.jsx";
import { ReviewPage } from "./pages/review.jsx";
import { SearchPage } from "./pages/search.jsx";
import { SuspiciousPage } from "./pages/suspicious.jsx";

/** The current route: `#/profile/p_...` → { page: "profile", arg: "p_...", params }. */
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?");
  const [page, ...rest] = path.split("/");
  return { page: page || "search", arg: rest.map(decodeURIComponent).join("/"), params: new URLSearchParams(query) };
}

function useRoute() {
  const [route, setRoute] = useState(parseHash);
  useEffect(() => {
    const changed = () => {
      // Another token handed over in the address: sign in again with it.
      if (/[#&?]token=/.test(location.hash)) {
        takeTokenFromUrl();
        location.reload();
        return;
      }
      setRoute(parseHash());
    };
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return route;
}

/** A token handed over in the URL (`make run` prints one: `#token=...`) is kept for the
 * tab's session and taken out of the address bar and history. */
function takeTokenFromUrl() {
  const match = location.hash.match(/[#&?]token=([^&]+)/);
  if (!match) return;
  setToken(decodeURIComponent(match[1]));
  const rest = location.hash.replace(/[#&?]?token=[^&]+&?/, "").replace(/^#?&?/, "");
  history.replaceState(null, "", location.pathname + (rest ? `#${rest.startsWith("/") ? rest : "/" + rest}` : "#/search"));
}

function SignIn({ error, onSignedIn }) {
  const [value, setValue] = useState("");
  const submit = (event) => {
    event.preventDefault();
    setToken(value.trim());
    onSignedIn();
  };
  return (
    <main class="signin">
      <h1>idgraph console</h1>
      <p>Sign in with an API token (<code>idgraph token create --name NAME --scope profiles:read --scope steward:write</code>; add <code>pii:read</code> to see personal values unmasked).</p>
      {error && <p class="error" role="alert">{error}</p>}
      <form onSubmit={submit}>
        <label>API token <input id="token" type="password" autocomplete="off" value={value} onInput={(e) => setValue(e.currentTarget.value)} /></label>
        <button type="submit" disabled={!value.trim()}>Sign in</button>
      </form>
    </main>
  );
}

const NAV = [
  ["search", "Search"],
  ["review", "Review queue"],
  ["suspicious", "Suspicious clusters"],
  ["quality", "Quality"],
  ["audit", "Audit log"],
];

function App() {
  const route = useRoute();
  const [viewer, setViewer] = useState(null);
  const [authError, setAuthError] = useState(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    if (!getToken()) return;
    gql(VIEWER)
      .then((data) => { setViewer(data.viewer); setAuthError(null); })
      .catch((error) => {
        setToken("");
        setViewer(null);
        setAuthError(error instanceof ApiError && error.code === "UNAUTHENTICATED" ? "That token was not accepted." : error.message);
      });
  }, [attempt]);

  if (!getToken() || !viewer) {
    if (getToken() && !authError) return <p class="loading">Signing in…</p>;
    return <SignIn error={authError} onSignedIn={() => setAttempt(attempt + 1)} />;
  }
  const canReadPii = viewer.scopes.includes("pii:read") || viewer.scopes.includes("admin");
  const canAct = viewer.scopes.includes("steward:write") || viewer.scopes.includes("admin");
  // The API lets only admin read the audit log: other tokens are not offered the page.
  const canAudit = viewer.scopes.includes("admin");
  const who = { ...viewer, canReadPii, canAct, canAudit };
  const signOut = () => { setToken(""); setViewer(null); setAuthError(null); };
  let page;
  switch (route.page) {
    case "profile": page = <ProfilePage key={route.arg} id={route.arg} viewer={who} />; break;
    case "review": page = <ReviewPage viewer={who} />; break;
    case "suspicious": page = <SuspiciousPage />; break;
    case "quality": page = <QualityPage />; break;
    case "audit": page = <AuditPage viewer={who} />; break;
    default: page = <SearchPage key={route.params.toString()} params={route.params} />;
  }
  return (
    <>
      <header class="top">
        <a class="brand" href="#/search">idgraph</a>
        <nav>
          {NAV.filter(([id]) => id !== "audit" || who.canAudit).map(([id, label]) => (
            <a href={`#/${id}`} class={route.page === id || (id === "search" && route.page === "profile") ? "active" : ""}>{label}</a>
          ))}
        </nav>
        <span class="viewer" title={viewer.scopes.join(", ")}>{viewer.name}</span>
        <button class="link" onClick={signOut}>Sign out</button>
      </header>
      {!canReadPii && (
        <p class="banner" data-testid="masked-banner">Personal values are masked: this token has no <code>pii:read</code> scope.</p>
      )}
      {page}
    </>
  );
}

takeTokenFromUrl();
render(<App />, document.getElementById("app"));
