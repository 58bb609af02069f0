#!/usr/bin/env bash
# Debian packages the test suite needs; installs only what is missing.
#
# Debian's daemon packages start their service on install; the tests run their own
# instances. So the install runs under a policy-rc.d that denies every service start
# (honoured by invoke-rc.d and deb-systemd-invoke, which the packages' scripts use), and
# the units are disabled afterwards. Nothing is ever ended by name: if a daemon started
# anyway (an init system that ignores policy-rc.d), the script ends only the pid that the
# package's init script recorded in its pidfile, and only when that process is the
# package's binary and was not running before this install.
#
# For tests/unit/test_install_system_packages.py: STACKWATCH_SYSTEM_PACKAGES names the
# packages to install (default: the missing ones), POLICY_RC_D and PIDFILE_DIR move the
# policy file and the packages' pidfile directory.
set -euo pipefail

# Debian package -> its daemon (the service of the same name), when it has one.
declare -A DAEMONS=(
  [prometheus-blackbox-exporter]=/usr/bin/prometheus-blackbox-exporter
  [prometheus-alertmanager]=/usr/bin/prometheus-alertmanager
)

need=()
if [ -n "${STACKWATCH_SYSTEM_PACKAGES:-}" ]; then
  read -r -a need <<<"$STACKWATCH_SYSTEM_PACKAGES"
else
  command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
  [ -x /usr/bin/prometheus-blackbox-exporter ] || need+=(prometheus-blackbox-exporter)
  # Debian's Alertmanager: tests/unit/test_install_system_packages.py's second daemon (the alert
  # path runs the pinned 0.35.0 build of tools/install_tools.py).
  { [ -x /usr/bin/prometheus-alertmanager ] && [ -x /usr/bin/amtool ]; } || need+=(prometheus-alertmanager)
  # Headless Chromium opens the HTML usage report in tests/operator_tools.
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi
[ ${#need[@]} -gt 0 ] || exit 0

sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"

# Pids running a binary before the install: never ours to end.
pids_of() {
  local exe=$1 proc
  for proc in /proc/[0-9]*; do
    [ "$(readlink "$proc/exe" 2>/dev/null)" = "$exe" ] && echo "${proc#/proc/}"
  done
  return 0
}
declare -A before=()
for package in "${!DAEMONS[@]}"; do
  before[$package]=" $(pids_of "${DAEMONS[$package]}" | tr '\n' ' ') "
done

policy="${POLICY_RC_D:-/usr/sbin/policy-rc.d}"
backup=""
restore_policy() {
  if [ -n "$backup" ]; then
    $sudo_cmd mv -f "$backup" "$policy"
  else
    $sudo_cmd rm -f "$policy"
  fi
}
if [ -e "$policy" ]; then
  backup="$(mktemp /tmp/policy-rc.d.XXXXXX)"
  $sudo_cmd cp -p "$policy" "$backup"
fi
trap restore_policy EXIT
printf '#!/bin/sh\n# stackwatch tools/install-system-packages.sh: no service starts during the install.\nexit 101\n' \
  | $sudo_cmd tee "$policy" >/dev/null
$sudo_cmd chmod 755 "$policy"

echo "installing Debian packages: ${need[*]}"
$sudo_cmd apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

restore_policy
trap - EXIT

for package in "${need[@]}"; do
  exe="${DAEMONS[$package]:-}"
  [ -n "$exe" ] || continue
  # Not at boot either (on a systemd host; elsewhere there is nothing to disable).
  $sudo_cmd systemctl disable "$package" >/dev/null 2>&1 || true
  pidfile="${PIDFILE_DIR:-/run/prometheus}/$package.pid"
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  if [[ "$pid" =~ ^[0-9]+$ ]] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ] \
      && [[ "${before[$package]}" != *" $pid "* ]]; then
    echo "stopping $package (pid $pid), started by its package's install"
    $sudo_cmd kill "$pid"
    $sudo_cmd rm -f "$pidfile"
  fi
done
