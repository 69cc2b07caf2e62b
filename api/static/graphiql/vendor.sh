#!/usr/bin/env bash
# Re-fetch the GraphiQL page's browser files from their npm releases
# (`make vendor-graphiql`). To update, change a version below, run this, then
# update VENDOR.md (versions, and the hashes this prints) and run
# tests/browser/test_graphiql.py.
# Files are copied byte for byte as released; only their names change.
set -euo pipefail

GRAPHIQL=3.8.3                  # graphiql: a self-contained UMD build (graphiql.min.js); deprecated in 4.x, gone in 5.x
EXPLORER=1.0.2                  # @graphiql/plugin-explorer: its UMD build runs on graphiql 3's globals
EXPLORER_CORE=0.9.0             # graphiql-explorer: bundled inside the plugin's UMD build (its licence)
REACT=18.2.0                    # react and react-dom: 18 is the last major with UMD builds

here="$(cd "$(dirname "$0")" && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"

unpack() {  # unpack NAME@VERSION into ./DIR
  local spec="$1" dir="$2" tarball
  tarball="$(npm pack --silent "$spec")"
  mkdir -p "$dir"
  tar -xzf "$tarball" -C "$dir" --strip-components=1
}

unpack "graphiql@$GRAPHIQL" graphiql
unpack "@graphiql/plugin-explorer@$EXPLORER" explorer
unpack "graphiql-explorer@$EXPLORER_CORE" explorer-core
unpack "react@$REACT" react
unpack "react-dom@$REACT" react-dom

cp graphiql/graphiql.min.js graphiql/graphiql.min.css "$here/"
cp graphiql/LICENSE "$here/LICENSE.graphiql"
cp explorer/dist/index.umd.js "$here/plugin-explorer.umd.js"
cp explorer/dist/style.css "$here/plugin-explorer.css"
# The plugin's package carries no LICENSE file; it is part of the graphiql
# repository, under the same MIT licence as graphiql itself.
cp graphiql/LICENSE "$here/LICENSE.plugin-explorer"
cp explorer-core/LICENSE "$here/LICENSE.graphiql-explorer"
cp react/umd/react.production.min.js "$here/"
cp react/LICENSE "$here/LICENSE.react"
cp react-dom/umd/react-dom.production.min.js "$here/"
cp react-dom/LICENSE "$here/LICENSE.react-dom"

cd "$here"
# The integrity hashes VENDOR.md lists (a test checks the files against them).
for file in graphiql.min.js graphiql.min.css plugin-explorer.umd.js plugin-explorer.css \
    react.production.min.js react-dom.production.min.js; do
  echo "$file sha384-$(openssl dgst -sha384 -binary "$file" | base64 -w0)"
done
