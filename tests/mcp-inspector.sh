#!/usr/bin/env bash
# The MCP Inspector's CLI mode (from the npm registry) against `codedb serve` on a temporary
# git project: lists the tools, calls index, search and edit, checks the answers; then the
# same client over streamable HTTP (`codedb serve --http`) with the generated token, and
# refused without it.
# Usage: tests/mcp-inspector.sh PATH/TO/codedb   (needs node and npm; .ci/run skips it
# with a printed reason where they are absent)
set -euo pipefail
codedb="$(realpath "$1")"
here="$(cd "$(dirname "$0")/.." && pwd)"
prefix="$here/target/mcp-inspector"
version="0.17.5"   # the first CLI with --header (the bearer token over HTTP)
installed="$(node -e 'try{console.log(require(process.argv[1]).version)}catch(e){}' \
    "$prefix/node_modules/@modelcontextprotocol/inspector/package.json")"
if [ "$installed" != "$version" ]; then
    npm install --silent --no-audit --no-fund --prefix "$prefix" "@modelcontextprotocol/inspector@$version" >/dev/null
fi
inspector="$prefix/node_modules/.bin/mcp-inspector"

project="$(mktemp -d)"
trap 'rm -rf "$project"' EXIT
cd "$project"
printf 'class Parser:\n    """Splits text into words."""\n\n    def parse(self, text):\n        return text.split()\n' > parser.py
printf '.codedb/\n' > .gitignore
git init -q -b main && git config user.email ci@example.com && git config user.name ci
git add -A && git commit -q -m init

call() { timeout 120 "$inspector" --cli "$codedb" serve --root "$project" "$@"; }
check() { python3 -c "import json,sys; d=json.load(sys.stdin); $1" || { echo "mcp-inspector: check failed: $1" >&2; exit 1; }; }

call --method tools/list | check '
names = sorted(t["name"] for t in d["tools"])
assert names == sorted(["index","stats","symbol","search","usages","refs","callers","callees","deps","rdeps","hierarchy","file","edit","replace_symbol","create","delete","move","history","restore","schema_plan","verify","status","projects","map","outline","insert","delete_symbol","rename"]), names'
call --method tools/call --tool-name index | check '
s = d["structuredContent"]; assert s["files_indexed"] + s["files_unchanged"] == 1, s'
call --method tools/call --tool-name search --tool-arg "query=Splits text" | check '
assert any(h["path"] == "parser.py" for h in d["structuredContent"]["hits"]), d'
call --method tools/call --tool-name edit --tool-arg path=parser.py \
    --tool-arg "content=def parse(text):
    return text.split(',')
" --tool-arg "message=edited by the inspector" | check '
s = d["structuredContent"]; assert len(s["sha256"]) == 64 and s["git_commit"], s'
test "$(git log -1 --format=%s)" = "edited by the inspector"
test -z "$(git status --porcelain)"
call --method tools/call --tool-name verify | check '
s = d["structuredContent"]; assert s["mismatches"] == [] and s["pending_intents"] == 0, s'
echo "mcp-inspector $version: tools/list, index, search, edit, verify: ok"

# Over streamable HTTP: the server on a free loopback port, the token it generated.
log="$project/.codedb/serve.log"
"$codedb" serve --http 127.0.0.1:0 --root "$project" 2>"$log" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$project"' EXIT
for _ in $(seq 100); do grep -q 'serving MCP on' "$log" && break; sleep 0.1; done
url="$(grep -o 'http://[^ ]*/mcp' "$log")"
token="$(cat "$project/.codedb/token")"
http() { timeout 120 "$inspector" --cli "$url" --transport http "$@"; }
http --header "Authorization: Bearer $token" --method tools/call --tool-name symbol \
    --tool-arg name=parse | check '
assert d["structuredContent"]["symbols"][0]["path"] == "parser.py", d'
if http --method tools/list >/dev/null 2>&1; then
    echo "mcp-inspector: a request without the token was served" >&2; exit 1
fi
kill -TERM $server && wait $server
echo "mcp-inspector $version over HTTP: symbol with the token, refused without: ok"
