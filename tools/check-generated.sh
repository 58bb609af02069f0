#!/usr/bin/env bash
# Fails when a committed generated file differs from what its source generates
# (kubernetes-mixin's loop): regenerate in place, then ask git whether anything
# under the generated paths changed or appeared. Run on a clean tree (CI's clone).
set -euo pipefail
cd "$(dirname "$0")/.."
# Every generated path, one per line; `make generate` writes all of them.
GENERATED=(
  docs/metrics.md
  grafana/provisioning/dashboards
  prometheus/rules/dashboards.rules.yaml
  alerting/prometheus
  alerting/alertmanager
  alerting/grafana
)
make --no-print-directory generate >/dev/null
stale=$(git status --porcelain --untracked-files=all -- "${GENERATED[@]}")
if [ -n "$stale" ]; then
  echo "generated files are stale (run make generate and commit):"
  echo "$stale"
  git --no-pager diff --stat -- "${GENERATED[@]}"
  exit 1
fi
echo "generated files are up to date"
