#!/usr/bin/env bash
# Build or install the native test stack's pinned binaries (collector, Prometheus,
# promtool) into ${STACKWATCH_TOOLS_DIR:-~/.cache/stackwatch/tools}, and check the
# Debian ones (blackbox_exporter, docker-compose; see install-system-packages.sh).
# Versions come from docker-compose.yml. Cached builds are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" tools/install_tools.py "$@"
