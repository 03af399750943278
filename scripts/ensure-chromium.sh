#!/usr/bin/env bash
# Installs Debian's Chromium when it is missing, for the test that opens the bench report in a real
# browser (test/bench/report_browser_test.ts). Only acts as root with apt; otherwise it says why and
# exits 0 (the browser test is then skipped with a printed reason).
set -uo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "ensure-chromium: $(chromium --version 2>/dev/null | head -n 1) present"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: not root or no apt-get; the browser test will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
if apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null 2>&1; then
  echo "ensure-chromium: installed $(chromium --version 2>/dev/null | head -n 1)"
else
  echo "ensure-chromium: could not install chromium; the browser test will be skipped" >&2
fi
exit 0
