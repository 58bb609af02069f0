#!/usr/bin/env bash
# Runs the test suite several times in a row (default twice) while a CPU burner keeps every
# core busy, to prove that no test depends on wall-clock speed.
#
#   tools/stress-test.sh                        # the whole suite, twice, under load
#   tools/stress-test.sh tests/faults -x        # any pytest arguments
#   STRESS_RUNS=3 STRESS_WORKERS=4 tools/stress-test.sh
#
# The burners are plain Python busy loops (one per core by default): nothing to install,
# and they compete with the tests at the same priority. Every burner's pid is recorded
# and only those are ended, on exit, failure or Ctrl-C. Exits with the first failing
# run's status.
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-.venv/bin/python}"
runs="${STRESS_RUNS:-2}"
workers="${STRESS_WORKERS:-$(nproc)}"
burners=()
# As `make test` runs it: modules in parallel on PYTEST_WORKERS workers (0 = serially).
pytest_workers="${PYTEST_WORKERS:-3}"
parallel=""
if [ "$pytest_workers" != "0" ]; then
  parallel="-n ${pytest_workers} --dist loadfile"
fi

stop_burners() {
  local pid
  for pid in "${burners[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${burners[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  burners=()
}
trap stop_burners EXIT
trap 'stop_burners; exit 130' INT TERM

for _ in $(seq "$workers"); do
  "$python" -c 'while True: pass' &
  burners+=("$!")
done
echo "stress-test: ${#burners[@]} CPU burner(s) running (pids ${burners[*]}), ${runs} run(s) of pytest $*"

for run in $(seq "$runs"); do
  echo "stress-test: run ${run}/${runs}"
  status=0
  # shellcheck disable=SC2086  # the parallel options are words
  "$python" -m pytest ${parallel} "$@" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "stress-test: run ${run}/${runs} failed (exit ${status})"
    exit "$status"
  fi
done
echo "stress-test: ${runs} run(s) passed under load"
