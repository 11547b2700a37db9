#!/usr/bin/env bash
# Set up fontgen on a fresh Debian machine: the Korean font corpus, potrace, Chromium, and the package
# in .venv (torch pinned to the CPU wheel). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
PACKAGES=(fonts-nanum fonts-nanum-extra fonts-nanum-eco fonts-naver-d2coding fonts-alee fonts-baekmuk
          fonts-lexi-gulim fonts-lexi-saebom fonts-unfonts-core fonts-unfonts-extra fonts-woowa-bm fonts-noto-cjk
          potrace libpotrace-dev fontconfig chromium)
missing=()
for package in "${PACKAGES[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
echo "fontgen is set up: .venv/bin/fontgen"
