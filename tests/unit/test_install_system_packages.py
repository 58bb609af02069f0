"""tools/install-system-packages.sh ends only what its own install started, by recorded pid.

apt-get, sudo and systemctl are stand-ins on PATH; the daemons are the real Debian
binaries. The stand-in apt-get plays an init system that ignores policy-rc.d: it starts
blackbox_exporter (the install's own daemon) and points Alertmanager's pidfile at an
Alertmanager that was running before the install (somebody else's).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from ciguard import in_ci
from simhelpers import free_port

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tools" / "install-system-packages.sh"
BLACKBOX = Path("/usr/bin/prometheus-blackbox-exporter")
ALERTMANAGER = Path("/usr/bin/prometheus-alertmanager")

APT_GET = """#!/usr/bin/env bash
echo "apt-get $*" >>"$LOG"
if [[ " $* " == *" install "* ]]; then
  "$POLICY_RC_D" prometheus-blackbox-exporter start; echo "policy exit $?" >>"$LOG"
  "$BLACKBOX" --config.file="$BLACKBOX_CONFIG" --web.listen-address=127.0.0.1:"$BLACKBOX_PORT" \\
    >/dev/null 2>&1 </dev/null &
  echo $! >"$PIDFILE_DIR/prometheus-blackbox-exporter.pid"
  echo "$OTHER_PID" >"$PIDFILE_DIR/prometheus-alertmanager.pid"
fi
"""
SUDO = '#!/usr/bin/env bash\nexec "$@"\n'
SYSTEMCTL = '#!/usr/bin/env bash\necho "systemctl $*" >>"$LOG"\n'


def alive(pid: int) -> bool:
    """Running, i.e. neither gone nor a zombie waiting for an init that may never reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.fixture
def daemons_present() -> None:
    missing = [str(p) for p in (BLACKBOX, ALERTMANAGER) if not p.exists()]
    if missing:
        message = f"Debian daemons missing: {missing} (run `make system-packages`)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)


def test_install_denies_service_starts_and_ends_only_the_daemon_it_started(tmp_path: Path, daemons_present) -> None:
    bin_dir, pid_dir = tmp_path / "bin", tmp_path / "run"
    bin_dir.mkdir()
    pid_dir.mkdir()
    for name, text in (("apt-get", APT_GET), ("sudo", SUDO), ("systemctl", SYSTEMCTL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    policy = tmp_path / "policy-rc.d"
    original_policy = "#!/bin/sh\n# the machine's own policy\nexit 0\n"
    policy.write_text(original_policy)
    policy.chmod(0o755)
    (tmp_path / "am.yml").write_text("route:\n  receiver: none\nreceivers:\n  - name: none\n")
    log = tmp_path / "log"

    other = subprocess.Popen([str(ALERTMANAGER), f"--config.file={tmp_path / 'am.yml'}",
                              f"--storage.path={tmp_path / 'am-data'}", "--cluster.listen-address=",
                              f"--web.listen-address=127.0.0.1:{free_port()}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started_pid = None
    try:
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "LOG": str(log),
               "STACKWATCH_SYSTEM_PACKAGES": "prometheus-blackbox-exporter prometheus-alertmanager",
               "POLICY_RC_D": str(policy), "PIDFILE_DIR": str(pid_dir), "BLACKBOX": str(BLACKBOX),
               "BLACKBOX_CONFIG": str(REPO / "prometheus" / "blackbox.yml"), "BLACKBOX_PORT": str(free_port()),
               "OTHER_PID": str(other.pid)}
        result = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        started_pid = int((result.stdout.split("(pid ")[1]).split(")")[0]) if "(pid " in result.stdout else None
        events = log.read_text().splitlines()

        # During the install, policy-rc.d denied service starts (101); afterwards it is the machine's again.
        assert "policy exit 101" in events
        assert policy.read_text() == original_policy
        # Each installed daemon is disabled through the init system.
        assert {"systemctl disable prometheus-blackbox-exporter",
                "systemctl disable prometheus-alertmanager"} <= set(events)
        # The daemon the install started is ended, by the pid in its pidfile ...
        assert started_pid is not None, result.stdout
        deadline = time.monotonic() + 30
        while alive(started_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(started_pid)
        # ... and the Alertmanager that ran before the install is left alone.
        assert other.poll() is None and alive(other.pid)
        assert f"pid {other.pid}" not in result.stdout
    finally:
        other.terminate()
        other.wait(timeout=30)
        if started_pid is not None and alive(started_pid):
            os.kill(started_pid, 9)
