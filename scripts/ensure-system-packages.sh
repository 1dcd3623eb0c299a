#!/usr/bin/env bash
# Installs the Debian packages the test suite runs for real (only those missing).
# Usage: scripts/ensure-system-packages.sh <command>=<package> ...
#   e.g. scripts/ensure-system-packages.sh openssl=openssl redis-server=redis-server
# A <command> with a slash is a path pattern instead, for programs Debian keeps off PATH:
#   '/usr/lib/postgresql/*/bin/postgres=postgresql'
set -euo pipefail
missing=()
for pair in "$@"; do
  command_name="${pair%%=*}"
  package_name="${pair#*=}"
  if [[ "$command_name" == */* ]]; then
    compgen -G "$command_name" >/dev/null || missing+=("$package_name")
  else
    command -v "$command_name" >/dev/null 2>&1 || missing+=("$package_name")
  fi
done
[ "${#missing[@]}" -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Missing ${missing[*]} and no apt-get to install them; install them and run again." >&2
  exit 1
fi
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
echo "Installing ${missing[*]} (needed by the test suite)..." >&2
"${sudo_cmd[@]}" apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
