# shellcheck shell=bash
# Debian packages Peregrine needs, installed only when missing.
# Source this file, then: deps_install build servers   (or: deps_install e2e)

DEPS_BUILD=(cmake ninja-build g++ pkg-config libboost-all-dev libpaho-mqtt-dev libpaho-mqttpp-dev libpqxx-dev
  libhiredis-dev nlohmann-json3-dev libspdlog-dev libsimdjson-dev libtomlplusplus-dev
  libcli11-dev libsodium-dev libjwt-dev libssl-dev libcurl4-openssl-dev libgtest-dev
  libgmock-dev libbenchmark-dev libhowardhinnant-date-dev tzdata
  librsvg2-dev fonts-dejavu-core libvalijson-dev)
# util-linux gives runuser/setsid; procps gives ps; python3 and python3-aiosmtpd run the
# notification tests' fake webhook, Twilio and SMTP servers (tests/support/fake_providers.py).
DEPS_SERVERS=(postgresql redis-server mosquitto mosquitto-clients util-linux procps curl python3 python3-aiosmtpd)
DEPS_WEB=(nodejs npm)
DEPS_E2E=(chromium)

# Prints the packages of the given list that are not installed.
deps_missing() {
  local pkg status
  for pkg in "$@"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == installed ]] || printf '%s\n' "$pkg"
  done
}

# Runs a command as root: directly when we are root, else through sudo.
deps_as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -E "$@"; fi
}

# deps_install GROUP... with GROUP in build, servers, web (node, npm), e2e (chromium).
deps_install() {
  local want=() group
  for group in "$@"; do
    case "$group" in
      build) want+=("${DEPS_BUILD[@]}") ;;
      servers) want+=("${DEPS_SERVERS[@]}") ;;
      web) command -v node >/dev/null && command -v npm >/dev/null || want+=("${DEPS_WEB[@]}") ;;
      e2e) want+=("${DEPS_E2E[@]}") ;;
      *) echo "deps_install: unknown group '$group' (build, servers, web, e2e)" >&2; return 2 ;;
    esac
  done
  local missing
  mapfile -t missing < <(deps_missing "${want[@]}")
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  if ! command -v apt-get >/dev/null; then
    echo "deps: missing packages ${missing[*]} and no apt-get; install them yourself" >&2
    return 1
  fi
  echo "deps: installing ${missing[*]}" >&2
  # Installing postgresql/redis-server/mosquitto may start their system services on
  # the default ports; Peregrine never uses those (it runs its own on other ports).
  deps_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  deps_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" </dev/null
}
