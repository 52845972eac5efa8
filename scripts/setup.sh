#!/usr/bin/env bash
# Installs what hark needs to build and test, only what is missing.
# Debian 12; run as root or with sudo. Idempotent.
set -euo pipefail

PKGS=(build-essential cmake pkg-config python3
      libcurl4-openssl-dev libyajl-dev libpcre2-dev librdkafka-dev
      libcmocka-dev libutf8proc-dev libcsv-dev libsqlite3-dev libhyperscan-dev
      libicu-dev kcat)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
