#!/usr/bin/env bash
# Re-fetch the console's chart library from its npm release
# (`make vendor-echarts`). To update, change the version below, run this,
# then update VENDOR.md (version and the hash this prints) and run
# tests/browser/test_console.py. The file is copied byte for byte.
set -euo pipefail

ECHARTS=5.6.0   # apache echarts: dist/echarts.min.js is a self-contained UMD build (global `echarts`)

here="$(cd "$(dirname "$0")" && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
tarball="$(npm pack --silent "echarts@$ECHARTS")"
mkdir -p echarts && tar -xzf "$tarball" -C echarts --strip-components=1
cp echarts/dist/echarts.min.js "$here/"
cp echarts/LICENSE "$here/LICENSE.echarts"
cp echarts/NOTICE "$here/NOTICE.echarts"
cd "$here"
echo "echarts.min.js sha384-$(openssl dgst -sha384 -binary echarts.min.js | base64 -w0)"
