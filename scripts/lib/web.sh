# shellcheck shell=bash
# The dashboard (web/) and its end-to-end tests (tests/e2e/). Source this file.
#
#   web_build   npm ci (npm install when there is no lock file) in web/, then
#               bundle web/src into web/dist/ with esbuild. web/dist is not
#               committed, so scripts/run and scripts/test call this.
#   e2e_run [node --test args...]
#               runs tests/e2e/*.test.mjs with node's test runner in headless
#               Debian Chromium (installed with apt-get when missing; a browser
#               is never downloaded). Needs PEREGRINE_TEST_PG_URL,
#               PEREGRINE_TEST_REDIS_URL and PEREGRINE_TEST_MQTT_URL (exported
#               by scripts/test) and a built peregrine (PEREGRINE_BINARY, else
#               build/peregrine).

WEB_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WEB_REPO_DIR="$(cd "$WEB_LIB_DIR/../.." && pwd)"

web_require_node() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "web: node and npm are needed (apt-get install nodejs npm)" >&2
    return 1
  fi
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  if ((major < 18)); then
    echo "web: node >= 18 is needed (found $(node --version))" >&2
    return 1
  fi
}

# Installs web/node_modules when package.json or the lock file changed since
# the last install (npm ci wipes node_modules, so skip it when up to date).
web_install() {
  local web="$WEB_REPO_DIR/web" stamp="$WEB_REPO_DIR/web/node_modules/.peregrine-stamp" sum
  web_require_node || return 1
  sum=$(cat "$web/package.json" "$web/package-lock.json" 2>/dev/null | cksum)
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$sum" ]]; then
    return 0
  fi
  echo "web: installing npm packages" >&2
  local cmd=(npm ci)
  [[ -f "$web/package-lock.json" ]] || cmd=(npm install)
  (cd "$web" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "${cmd[@]}" --no-audit --no-fund --loglevel=error) || return 1
  echo "$sum" >"$stamp"
}

web_build() {
  web_install || return 1
  (cd "$WEB_REPO_DIR/web" && node build.mjs --log-level=warning) || {
    echo "web: bundling the dashboard failed" >&2
    return 1
  }
}

web_ensure_chromium() {
  if [[ -x /usr/bin/chromium ]]; then
    return 0
  fi
  if ! command -v apt-get >/dev/null; then
    echo "web: /usr/bin/chromium is missing and there is no apt-get" >&2
    return 1
  fi
  echo "web: installing Debian's chromium" >&2
  local sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo -E)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium </dev/null
}

e2e_run() {
  web_build || return 1
  web_ensure_chromium || return 1
  local missing=()
  local v
  for v in PEREGRINE_TEST_PG_URL PEREGRINE_TEST_REDIS_URL PEREGRINE_TEST_MQTT_URL; do
    [[ -n "${!v:-}" ]] || missing+=("$v")
  done
  if ((${#missing[@]})); then
    echo "e2e: skipped: ${missing[*]} not set (scripts/test sets them)" >&2
    return 0
  fi
  export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
  export PEREGRINE_BINARY="${PEREGRINE_BINARY:-$WEB_REPO_DIR/${PEREGRINE_BUILD_DIR:-build}/peregrine}"
  # One file at a time: each starts its own peregrine on the shared servers.
  local f rc=0
  for f in "$WEB_REPO_DIR"/tests/e2e/*.test.mjs; do
    (cd "$WEB_REPO_DIR" && node --test "$@" "$f") || rc=1
  done
  return "$rc"
}
