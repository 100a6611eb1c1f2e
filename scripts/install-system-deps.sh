#!/usr/bin/env bash
# Install the Debian packages paperfs needs; idempotent (installs only what is missing).
#   scripts/install-system-deps.sh          what the daemon needs
#   scripts/install-system-deps.sh --test   plus what the test suite needs
set -euo pipefail

runtime=(tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu tesseract-ocr-fra tesseract-ocr-osd ghostscript
         unpaper pngquant poppler-utils qpdf fonts-dejavu-core libzbar0 python3-venv
         libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-liberation2
         libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui)
testing=(litmus rclone cadaver davfs2 openjdk-17-jdk-headless maven redis-server iproute2
         dovecot-imapd chromium chromium-driver openssl)

wanted=("${runtime[@]}")
[[ "${1:-}" == "--test" ]] && wanted+=("${testing[@]}")

missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
  echo "paperfs: these Debian packages are missing and I am not root: ${missing[*]}" >&2
  echo "         install them with: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
