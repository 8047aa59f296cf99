// Builds the steward console into service/static/console/, the files the Python package
// ships: one script, one stylesheet, the page, and the licences of what the script bundles.
// Deterministic: the same sources and lockfile give the same bytes (a test checks the
// committed files against a fresh build).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
// `node build.mjs --out DIR` builds elsewhere (make console-check compares with the shipped files).
const flag = process.argv.indexOf("--out");
const out = flag > 0 ? process.argv[flag + 1] : join(here, "..", "service", "static", "console");
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [join(here, "src", "main.jsx")],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["chrome110", "firefox110", "safari16"],
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  outfile: join(out, "console.js"),
  logLevel: "warning",
});
copyFileSync(join(here, "src", "console.css"), join(out, "console.css"));
copyFileSync(join(here, "src", "index.html"), join(out, "index.html"));

// The bundled packages' licences, in one file beside the script.
const bundled = ["preact", "cytoscape", "chart.js", "@kurkle/color"];
const licences = bundled.map((name) => {
  const folder = join(here, "node_modules", name);
  const { version, license } = JSON.parse(readFileSync(join(folder, "package.json"), "utf8"));
  const file = readdirSync(folder).find((f) => /^licen[cs]e(\.md|\.txt)?$/i.test(f));
  const text = readFileSync(join(folder, file), "utf8");
  return `${name} ${version} (${license})\n\n${text.trim()}\n`;
});
writeFileSync(join(out, "THIRD-PARTY-LICENSES.txt"), licences.join("\n" + "-".repeat(72) + "\n\n"));
