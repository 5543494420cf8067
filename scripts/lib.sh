# Shared steps of scripts/demo and scripts/test. Sourced, not run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

find_python() {
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return
    fi
  done
  echo "Python 3.11 or newer is required" >&2; exit 1
}

setup_python() {  # $1: requirements file
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating the virtual environment in .venv"
    "$(find_python)" -m venv "$VENV"
  fi
  say "installing Python packages from $1"
  # This machine's pip configuration names local mirrors that may be absent; hide only that noise.
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$1" 2> >(grep -v "is ignored: it is neither" >&2)
}

setup_node() {
  command -v npm >/dev/null 2>&1 || { say "installing Node.js and npm"; as_root apt-get update -qq; as_root apt-get install -y -qq nodejs npm; }
  # The scanner's packages, and the office dashboard's (ECharts) in backend/web.
  for dir in merchant_scanner backend/web; do
    # npm ci empties node_modules and installs again each time: skip it when the lockfile is the one
    # installed last (a copy kept inside node_modules, so a fresh checkout always installs).
    if cmp -s "$dir/package-lock.json" "$dir/node_modules/.installed-package-lock.json"; then continue; fi
    say "installing the npm packages of $dir"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
    cp "$dir/package-lock.json" "$dir/node_modules/.installed-package-lock.json"
  done
}

start_postgres() {
  if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then return; fi
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    say "starting PostgreSQL"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return; sleep 1; done
  fi
  echo "PostgreSQL is not running on 127.0.0.1:5432 and could not be started" >&2
}

start_redis() {
  if command -v redis-cli >/dev/null 2>&1 && [ "$(redis-cli -h 127.0.0.1 ping 2>/dev/null)" = PONG ]; then return; fi
  if command -v redis-server >/dev/null 2>&1; then
    say "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    for _ in $(seq 1 20); do [ "$(redis-cli -h 127.0.0.1 ping 2>/dev/null)" = PONG ] && return; sleep 0.5; done
  fi
  echo "Redis is not running on 127.0.0.1:6379 and could not be started" >&2
}

install_chromium() {
  # Chinese fonts too: without them every screenshot of our pages shows empty boxes.
  if [ -x /usr/bin/chromium ] && dpkg -s fonts-noto-cjk >/dev/null 2>&1; then return; fi
  say "installing Debian's chromium and Chinese fonts for the browser tests"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk
}
