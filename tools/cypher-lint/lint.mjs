// Lints Cypher files with Neo4j's own parser and semantic analysis
// (@neo4j-cypher/language-support), as Cypher 5 with any $parameter allowed.
//
//   node tools/cypher-lint/lint.mjs [--strict] PATH...   (files, or folders of *.cypher)
//
// Prints one line per finding, `file:line:column: error|warning: message`, then a summary.
// Exits 1 when any file has an error (syntax, semantics, unknown function or procedure),
// and with --strict also on warnings (deprecated syntax such as id() or CALL { WITH x }).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { lintCypherQuery, testData } from '@neo4j-cypher/language-support';

const ERROR = 1;

// The built-in functions and procedures of a Neo4j 5 server, as the package ships them
// for its own tests; plugin namespaces are dropped so a statement needing APOC or GDS
// (absent from Neo4j community) is reported as an unknown function.
const plugin = (name) => /^(apoc|gds|genai)\./.test(name);
const builtIn = (registry) =>
  Object.fromEntries(Object.entries(registry ?? {}).filter(([name]) => !plugin(name)));
const schema = {
  defaultLanguage: 'CYPHER 5',
  functions: { 'CYPHER 5': builtIn(testData.mockSchema.functions?.['CYPHER 5']) },
  procedures: { 'CYPHER 5': builtIn(testData.mockSchema.procedures?.['CYPHER 5']) },
  // Statements are parameterised; any $name is fine (the adapter passes them).
  parameters: new Proxy({}, { get: (_, key) => (typeof key === 'string' ? {} : undefined) }),
};

function cypherFiles(path) {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((name) => name.endsWith('.cypher'))
    .sort()
    .map((name) => join(path, name));
}

function lintFile(file) {
  const text = readFileSync(file, 'utf8');
  const findings = [];
  if (/^\s*CYPHER\s+(?!5\b)\d+/im.test(text)) {
    findings.push({ severity: ERROR, line: 1, column: 1, message: 'only CYPHER 5 is allowed' });
  }
  if (text.replace(/\/\/.*$/gm, '').trim() === '') {
    findings.push({ severity: ERROR, line: 1, column: 1, message: 'no statement in file' });
  }
  for (const d of lintCypherQuery(text, schema).diagnostics) {
    findings.push({
      severity: d.severity,
      line: d.range.start.line + 1,
      column: d.range.start.character + 1,
      message: d.message,
    });
  }
  return findings;
}

const args = process.argv.slice(2);
const strict = args.includes('--strict');
const paths = args.filter((a) => a !== '--strict');
if (paths.length === 0) {
  console.error('usage: node lint.mjs [--strict] PATH...');
  process.exit(2);
}

let files = 0;
let errors = 0;
let warnings = 0;
for (const file of paths.flatMap(cypherFiles)) {
  files += 1;
  for (const f of lintFile(file)) {
    const kind = f.severity === ERROR ? 'error' : 'warning';
    if (kind === 'error') errors += 1;
    else warnings += 1;
    console.log(`${file}:${f.line}:${f.column}: ${kind}: ${f.message}`);
  }
}
console.log(`cypher-lint: ${files} files, ${errors} errors, ${warnings} warnings`);
process.exit(errors > 0 || (strict && warnings > 0) || files === 0 ? 1 : 0);
