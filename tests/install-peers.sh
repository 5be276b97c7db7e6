#!/usr/bin/env bash
# Installs everything the tests talk to, on Debian 12 (run as root, or
# with sudo): the real peers (SIPp, baresip, linphonec, dumpcap, espeak-ng,
# sox, lame, ALSA headers), Chromium and playwright-core for the browser
# tests, SIPVicious (PyPI) for the scanner test, aiosmtpd (PyPI) for the
# web chat transcript test, and a PostgreSQL at
# 127.0.0.1:5432 with a database `test` for the store's tests. What is
# there already is left alone, so a second run takes a second.
#
#   sudo tests/install-peers.sh
#
# README.md gives this line and `.ci/run` runs this script. The Python and
# npm parts go under the checkout (target/ci-venv, tests/browser) and are
# made as the user who ran sudo, so that they stay theirs.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: the peers, the browser, and what the steps below use.
peers='sip-tester baresip linphone-cli tshark espeak-ng sox libsox-fmt-mp3 lame libasound2-dev pkg-config'
packages="$peers chromium"
python3 -c 'import venv, ensurepip' 2>/dev/null || packages="$packages python3-venv"
command -v npm >/dev/null || packages="$packages nodejs npm"
command -v pg_ctlcluster >/dev/null || packages="$packages postgresql"

missing=
for p in $packages; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages:$missing; run this script as root (sudo $0)" >&2
    exit 1
  fi
  echo "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086 # a list of package names
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# As the user who ran sudo, when there is one.
as_user() {
  if [ -n "${SUDO_USER:-}" ] && [ "$(id -u)" = 0 ]; then
    sudo -u "$SUDO_USER" "$@"
  else
    "$@"
  fi
}

# SIPVicious from PyPI, where the scanner test looks.
if [ ! -x target/ci-venv/bin/sipvicious_svwar ]; then
  as_user mkdir -p target
  as_user python3 -m venv target/ci-venv
  as_user target/ci-venv/bin/pip install -q sipvicious==0.3.4
fi
# aiosmtpd from PyPI in the same venv: the SMTP server that the web chat
# transcript test starts on 127.0.0.1 (tests/smtp/sink.py).
if ! target/ci-venv/bin/python -c 'import aiosmtpd' 2>/dev/null; then
  as_user target/ci-venv/bin/pip install -q aiosmtpd==1.4.6
fi

# playwright-core at the exact version of tests/browser/package-lock.json
# (it never downloads a browser: the tests use Debian's /usr/bin/chromium).
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  (cd tests/browser && as_user npm ci --no-fund --no-audit --loglevel=error)
fi

# PostgreSQL at 127.0.0.1:5432 with a database `test` (the machine's
# cluster, started when it is not running).
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 50); do
    pg_isready -q -h 127.0.0.1 -p 5432 && break
    sleep 0.2
  done
fi
pg_isready -h 127.0.0.1 -p 5432
pg_hint="the store's tests log in as user postgres without a password at 127.0.0.1:5432 \
(trust for 127.0.0.1/32 in pg_hba.conf), or take another URL from URA_TEST_POSTGRES"
has_test=$(psql -h 127.0.0.1 -U postgres -d postgres -tAc \
  "SELECT 1 FROM pg_database WHERE datname = 'test'") || { echo "$pg_hint" >&2; exit 1; }
[ -n "$has_test" ] || createdb -h 127.0.0.1 -U postgres test

sipp -v 2>&1 | grep -m1 -i sipp || true
baresip -h 2>&1 | head -n1 || true
linphonec -v 2>&1 | head -n1 || true
espeak-ng --version | head -n1 || true
/usr/bin/chromium --version || true
