#!/usr/bin/env bash
# Make sure `prometheus` and `promtool` are on PATH: the alert-rule tests and the live
# Prometheus test need both. Idempotent: does nothing when both are already there.
#
# Installs Debian/Ubuntu's `prometheus` package (promtool ships in it). Only the binaries are
# wanted, so the package's own service is kept from starting (a stray Prometheus on :9090
# would surprise a developer machine).
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
    exit 0
fi

fail() {
    echo "ensure-prometheus: $*" >&2
    echo "ensure-prometheus: install Prometheus 2.x by hand (https://prometheus.io/download/) so that" \
         "'prometheus' and 'promtool' are on PATH, then run this again." >&2
    exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "prometheus/promtool are missing and apt-get is not available."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || fail "prometheus/promtool are missing; installing them needs root (or sudo)."
    SUDO="sudo"
fi

# policy-rc.d answering 101 tells invoke-rc.d/deb-systemd-invoke not to start the service.
POLICY=/usr/sbin/policy-rc.d
added_policy=""
if [ ! -e "$POLICY" ]; then
    echo "ensure-prometheus: temporarily adding $POLICY so the prometheus service is not started"
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod +x "$POLICY"
    added_policy=1
fi
cleanup() { if [ -n "$added_policy" ]; then $SUDO rm -f "$POLICY"; fi; }
trap cleanup EXIT

echo "ensure-prometheus: prometheus/promtool not found; running: apt-get update"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q || fail "apt-get update failed."
echo "ensure-prometheus: running: apt-get install -y --no-install-recommends prometheus"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus \
    || fail "apt-get install prometheus failed."

command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 \
    || fail "the prometheus package installed but 'prometheus'/'promtool' are still not on PATH."
echo "ensure-prometheus: installed $(prometheus --version 2>&1 | head -n 1)"
