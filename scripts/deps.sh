#!/usr/bin/env bash
# Installs the Debian packages libreferral needs to build and test, if any
# are missing. Runs apt-get as root, or through sudo when available.
set -euo pipefail

packages=(build-essential cmake pkg-config libgmp-dev libsqlite3-dev libjansson-dev
          zlib1g-dev libpq-dev postgresql libcriterion-dev python3 sqlite3 groff-base python3-pandas python3-pip
          python3-setuptools python3-wheel)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
