#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed for the dashboard browser tests (test/dashboard/browser.test.ts),
# which drive it through playwright-core (no browser download). Quiet, idempotent, and it never fails the
# run by itself: without Chromium the browser tests skip with a message (or fail in CI: CI set to anything
# but false/0).
# Set MODRO_SKIP_CHROMIUM_INSTALL=1 to leave the machine alone.
set -u
CHROMIUM="${MODRO_CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] && exit 0
[ -n "${MODRO_SKIP_CHROMIUM_INSTALL:-}" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: no apt-get here; install Chromium yourself to run the browser tests" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "ensure-chromium: not root and no passwordless sudo; browser tests will be skipped" >&2
    exit 0
  fi
fi
LOG="${TMPDIR:-/tmp}/modro-ensure-chromium.log"
echo "ensure-chromium: installing Debian's chromium for the browser tests (log: $LOG)" >&2
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium; } >"$LOG" 2>&1; then
  echo "ensure-chromium: installation failed (see $LOG); browser tests will be skipped" >&2
fi
exit 0
