#!/bin/sh
# Copies the GraphiQL page's scripts, styles and licences from the pinned npm packages
# (package.json, package-lock.json) into service/static/graphiql/, so the page loads
# nothing from a CDN. Run from anywhere; needs npm and the registry, never at run time.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
target="$here/../../service/static/graphiql"
cd "$here"
npm ci --ignore-scripts --no-audit --no-fund
mkdir -p "$target"
cp node_modules/react/umd/react.production.min.js "$target/"
cp node_modules/react-dom/umd/react-dom.production.min.js "$target/"
cp node_modules/graphiql/graphiql.min.js node_modules/graphiql/graphiql.min.css "$target/"
cp node_modules/react/LICENSE "$target/LICENSE.react"
cp node_modules/react-dom/LICENSE "$target/LICENSE.react-dom"
cp node_modules/graphiql/LICENSE "$target/LICENSE.graphiql"
for package in react react-dom graphiql; do
    node -p "'$package ' + require('./node_modules/$package/package.json').version"
done
