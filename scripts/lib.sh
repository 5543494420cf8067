# Shared steps of scripts/demo and scripts/test. Sourced, not run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# apt-get that waits while another install holds the package locks instead of failing at once.
# DPkg::Lock::Timeout makes `install` wait; `update` ignores it for the package lists' lock (apt 2.6),
# so a refusal that names a lock is tried again, for up to five minutes.
apt_get() {
  local error=""
  for _ in $(seq 1 60); do
    error=$(as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -qq "$@" 2>&1 >/dev/null) && return 0
    case "$error" in
      *"Could not get lock"*|*"Unable to lock"*) say "another install holds the package lock: waiting"; sleep 5 ;;
      *) break ;;
    esac
  done
  printf '%s\n' "$error" >&2
  return 1
}

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
  command -v npm >/dev/null 2>&1 || { say "installing Node.js and npm"; apt_get update; apt_get install -y nodejs npm; }
  # The scanner's packages, and those of backend/web: the office dashboard's ECharts, the API docs' Swagger UI.
  for dir in merchant_scanner backend/web; do
    # npm ci empties node_modules and installs again each time: skip it when the lockfile is the one
    # installed last (a copy kept inside node_modules, so a fresh checkout always installs).
    if cmp -s "$dir/package-lock.json" "$dir/node_modules/.installed-package-lock.json"; then continue; fi
    say "installing the npm packages of $dir"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
    cp "$dir/package-lock.json" "$dir/node_modules/.installed-package-lock.json"
  done
}

# The newest PostgreSQL major version of the machine's Debian packages (its clusters' /etc/postgresql/<major>).
postgres_major() { ls /etc/postgresql | sort -V | tail -n 1; }

start_postgres() {
  if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then return; fi
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    say "starting PostgreSQL"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(postgres_major)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return; sleep 1; done
  fi
  echo "PostgreSQL is not running on 127.0.0.1:5432 and could not be started" >&2
}

install_postgres_hll() {
  # HyperLogLog for the statistics' distinct beneficiaries (migration 0020_stats_sketches creates the
  # extension where the server has it; tests/office/test_stats_sketches.py needs it under CI=true).
  # Only for the machine's own Debian PostgreSQL; the demo (SQLite) does without it.
  [ -d /etc/postgresql ] || return 0
  local major package
  major="$(postgres_major)"
  package="postgresql-$major-hll"
  if dpkg -s "$package" >/dev/null 2>&1; then return; fi
  say "installing Debian's $package for the statistics' approximate distinct counts"
  apt_get update
  apt_get install -y "$package" || say "could not install $package: beneficiaries will be counted exactly"
}

install_redis_server() {
  # The Sentinel test (tests/scale/test_sentinel.py) starts its own master, replica and sentinels.
  if command -v redis-server >/dev/null 2>&1; then return; fi
  say "installing Debian's redis-server for the Sentinel test"
  apt_get update
  apt_get install -y redis-server
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
  # Chinese fonts too: without them every screenshot of our pages shows empty boxes. And Chromium's
  # Chinese interface (chromium-l10n): without it a date field reads mm/dd/yyyy, not 年/月/日.
  if [ -x /usr/bin/chromium ] && dpkg -s fonts-noto-cjk chromium-l10n >/dev/null 2>&1; then return; fi
  say "installing Debian's chromium, its Chinese interface and Chinese fonts for the browser tests"
  apt_get update
  apt_get install -y chromium chromium-l10n fonts-noto-cjk
}

install_nginx() {
  # tests/test_proxy.py puts a real nginx in front of the app (the rate limits behind a proxy).
  if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then return; fi
  say "installing Debian's nginx for the reverse-proxy test"
  apt_get update
  apt_get install -y nginx-light 2>/dev/null || apt_get install -y nginx  # Debian 13 has only `nginx`
}

# Exits with a message if HOST:PORT cannot be bound (another server has it), before any set-up.
require_free_port() {  # $1: host, $2: port
  "$(find_python)" - "$1" "$2" <<'PY' || exit 1
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a port in TIME_WAIT is free
    try:
        probe.bind((host, port))
    except OSError as error:
        sys.exit(f"端口 {host}:{port} 已被占用（{error.strerror}）：停掉占用它的程序，或换一个端口，例如 PORT=8001 ./scripts/demo")
PY
}
