#!/usr/bin/env bash
# What the browser and PDF tests need from Debian: Chromium (driven by Playwright), poppler's
# pdftotext/pdftoppm/pdffonts, and a CJK font (for the pages, and embedded in the PDF form).
# Installs what is missing when it can (root, or passwordless sudo); says what to install otherwise.
set -euo pipefail
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v pdftoppm >/dev/null || missing+=(poppler-utils)
fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-noto-cjk)
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) == 0 ]]; then run=(); elif sudo -n true 2>/dev/null; then run=(sudo -n); else
  echo "missing Debian packages: ${missing[*]} — install them: sudo apt-get install -y ${missing[*]}" >&2; exit 1
fi
echo "installing ${missing[*]} (Debian packages the browser and PDF tests need)" >&2
"${run[@]}" apt-get update -qq >&2 || true
DEBIAN_FRONTEND=noninteractive "${run[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
