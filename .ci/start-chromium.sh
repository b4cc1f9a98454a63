#!/usr/bin/env bash
# Make headless Chromium available for the dashboard browser tests (pytest -m browser).
#
#   eval "$(bash .ci/start-chromium.sh)"     # exports DASKBENCH_CHROMIUM
#
# Idempotent: finds an installed chromium (or $DASKBENCH_CHROMIUM), else installs Debian's
# `chromium` package with apt-get (needs root). The tests start and stop the browser
# themselves; nothing keeps running. stdout carries only the export line.
set -euo pipefail

log() { echo "start-chromium: $*" >&2; }

find_chromium() {
    local candidate
    for candidate in "${DASKBENCH_CHROMIUM:-}" chromium chromium-browser; do
        [[ -n $candidate ]] || continue
        if command -v "$candidate" >/dev/null 2>&1; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

if ! binary=$(find_chromium); then
    if [[ $(id -u) -ne 0 ]]; then
        log "chromium not found and not root: install Debian's 'chromium' package"
        exit 1
    fi
    log "installing chromium with apt-get"
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >&2
    binary=$(find_chromium) || { log "chromium installed but not on PATH"; exit 1; }
fi

log "using $binary ($("$binary" --version 2>/dev/null | head -n 1))"
echo "export DASKBENCH_CHROMIUM=$binary"
