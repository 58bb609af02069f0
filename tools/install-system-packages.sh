#!/usr/bin/env bash
# Debian packages the test suite needs; installs only what is missing.
set -euo pipefail
need=()
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v prometheus-blackbox-exporter >/dev/null 2>&1 || [ -x /usr/bin/prometheus-blackbox-exporter ] || need+=(prometheus-blackbox-exporter)
# Alertmanager and amtool for the alerting twin (tests/alerting); Debian ships both.
[ -x /usr/bin/prometheus-alertmanager ] && [ -x /usr/bin/amtool ] || need+=(prometheus-alertmanager)
if [ ${#need[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  echo "installing Debian packages: ${need[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # The package starts a system service we do not want; the tests start their own.
  $sudo_cmd systemctl disable --now prometheus-blackbox-exporter >/dev/null 2>&1 || true
  # Same for Alertmanager: stop its service through the init system, never by process name.
  $sudo_cmd systemctl disable --now prometheus-alertmanager >/dev/null 2>&1 || true
  $sudo_cmd service prometheus-alertmanager stop >/dev/null 2>&1 || true
  pkill -f '^/usr/bin/prometheus-blackbox-exporter' >/dev/null 2>&1 || true
fi
