"""What users install is what runs: the wheel built from a clean tree, installed (not editable) the way
the Dockerfile installs it, runs every command of docs/getting-started.md that needs no account.

The clean tree is the repository's tracked (and new, unignored) files copied aside: no build artefacts,
no .venv, no egg-info. `python -m build` makes the sdist from it and the wheel from the sdist, and the
wheel's file list is compared with the tree's modules (derived from the tree, never a list, so a new
sub-package cannot be left out). The Dockerfile's build stage is then run natively: its COPY lines
copied from the clean tree, its RUN line executed with /src, /dist and /opt/stackwatch mapped into a
scratch directory (the image's Python is the 3.11 line these tests run on). The commands below run
from the venv that RUN made, in a directory outside the repository.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from simhelpers import free_port
from test_demo_otlp import Received, start_grpc

from exporters import __version__
from exporters.simulator import simulator_config, simulator_env
from exporters.simulator.world import DEFAULT_TOKENS

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "exporters"
# The wheel's packages: exporters/ and alerting/ (the alert definitions `stackwatch alerts render` reads).
PACKAGES = (PACKAGE, "alerting")
# Files under exporters/ that are not package data: documentation and test fixtures, never loaded
# by the code at run time (checked below: no module names them). alerting/ has modules only: its other
# files are reference renderings and an example for review, written by `make generate`.
NOT_PACKAGE_DATA = re.compile(r"(^|/)README\.md$|(^|/)testdata/")


def pip_env() -> dict[str, str]:
    """This machine's pip settings (index, mirrors, certificates, proxies) and its pip cache, kept when a
    test gives pip a scratch HOME: the installs below then reuse the warm cache instead of downloading."""
    keep = {k: v for k, v in os.environ.items()
            if (k.startswith("PIP_") and k != "PIP_NO_CACHE_DIR") or k.lower() in ("http_proxy", "https_proxy", "no_proxy")}
    keep.setdefault("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    return keep


def tree_files() -> list[str]:
    """The repository's files as a clone has them: tracked, plus new files git does not ignore."""
    done = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                          capture_output=True, check=True, timeout=60)
    return sorted(name for name in done.stdout.decode().split("\0") if name and (REPO / name).is_file())


def copy_tree(files: list[str], target: Path) -> Path:
    for name in files:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target / name)
    return target


def modules_of(names: list[str]) -> set[str]:
    return {n for n in names if n.split("/", 1)[0] in PACKAGES and n.endswith(".py")}


def data_of(names: list[str]) -> set[str]:
    return {n for n in names if n.startswith(f"{PACKAGE}/") and not n.endswith(".py")
            and not NOT_PACKAGE_DATA.search(n)}


def build(tree: Path, out: Path) -> tuple[Path, Path]:
    """sdist from the tree, then the wheel from the sdist (python -m build's default)."""
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(tree)], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return next(out.glob("*.tar.gz")), next(out.glob("*.whl"))


def wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


@dataclass(frozen=True)
class Dists:
    tree: Path
    files: list[str]
    sdist: Path
    wheel: Path


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    files = tree_files()
    tree = copy_tree(files, tmp_path_factory.mktemp("clean") / "stackwatch")
    sdist, wheel = build(tree, tmp_path_factory.mktemp("dist"))
    return Dists(tree, files, sdist, wheel)


def test_the_wheel_holds_every_module_and_data_file_of_the_tree_and_nothing_else(dists: Dists) -> None:
    names = wheel_names(dists.wheel)
    in_tree_modules, in_tree_data = modules_of(dists.files), data_of(dists.files)
    in_wheel = {n for n in names if not n.startswith("stackwatch-")}
    missing = (in_tree_modules | in_tree_data) - in_wheel
    extra = in_wheel - (in_tree_modules | in_tree_data)
    print(f"\n{dists.wheel.name}: {len(modules_of(names))} modules of the tree's {len(in_tree_modules)}, "
          f"{len(data_of(names))} data files of {len(in_tree_data)} ({', '.join(sorted(data_of(names)))}); "
          f"missing: {sorted(missing) or 'none'}; not from the tree: {sorted(extra) or 'none'}")
    assert not missing and not extra
    # What stays out is never read at run time: no module names a README or testdata/.
    for module in in_tree_modules:
        text = (dists.tree / module).read_text(encoding="utf-8")
        assert "testdata" not in text, module
    with tarfile.open(dists.sdist) as archive:
        sdist = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    assert in_tree_modules | in_tree_data <= sdist
    with zipfile.ZipFile(dists.wheel) as archive:
        metadata = archive.read(f"stackwatch-{__version__}.dist-info/METADATA").decode()
    assert f"\nVersion: {__version__}\n" in metadata  # the version is exporters.__version__


def test_a_new_sub_package_is_in_the_wheel_without_touching_the_build_config(dists: Dists, tmp_path: Path) -> None:
    """Issue 16: a hand list of packages left exporters/state out. Packages are found in the tree."""
    tree = copy_tree(dists.files, tmp_path / "tree")
    new = tree / PACKAGE / "newlayer" / "deeper"
    new.mkdir(parents=True)
    (new.parent / "__init__.py").write_text('"""A layer added after this test was written."""\n')
    (new / "__init__.py").write_text("")
    (new / "thing.py").write_text("VALUE = 1\n")
    _sdist, wheel = build(tree, tmp_path / "dist")
    assert {f"{PACKAGE}/newlayer/__init__.py", f"{PACKAGE}/newlayer/deeper/thing.py"} <= set(wheel_names(wheel))


# --- the Dockerfile's build stage, run natively ---

def dockerfile_build_stage() -> tuple[list[tuple[str, str]], str, dict[str, str]]:
    """(COPY source, destination) pairs, the RUN command and the ENV of the `build` stage."""
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    stage = text.split(" AS build", 1)[1].split("\nFROM ", 1)[0]
    copies, runs, env = [], [], {}
    for line in stage.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "COPY":
            *sources, destination = words[1:]
            copies += [(source, destination) for source in sources]
        elif words[0] == "RUN":
            runs.append(line.split("RUN", 1)[1].strip())
        elif words[0] == "ENV":
            env.update(pair.split("=", 1) for pair in words[1:])
    assert len(runs) == 1, "one RUN: build the wheel, install it, import every module"
    return copies, runs[0], env


@pytest.fixture(scope="module")
def image_venv(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    """The venv the image's build stage makes, its RUN output, and the wheel it built."""
    root = tmp_path_factory.mktemp("image")
    src = root / "src"
    src.mkdir()
    copies, command, env = dockerfile_build_stage()
    for source, destination in copies:
        target = src / destination
        if (dists.tree / source).is_dir():
            shutil.copytree(dists.tree / source, target / source if destination.endswith("/") else target)
        else:
            shutil.copy2(dists.tree / source, target / source if destination.endswith("/") else target)
    for path in ("/opt/stackwatch", "/dist", "/src"):  # longest first: /src is a prefix of nothing else
        command = command.replace(path, str(root / path.lstrip("/")))
    shims = root / "bin"
    shims.mkdir()
    (shims / "python").symlink_to(sys._base_executable)  # the interpreter this venv was made from
    env.pop("PIP_NO_CACHE_DIR", None)  # the image must not keep pip's cache; this machine's cache is warm
    done = subprocess.run(["bash", "-o", "errexit", "-c", command], cwd=src, capture_output=True, text=True,
                          timeout=900, env={"PATH": f"{shims}:/usr/bin:/bin", "HOME": str(root), **pip_env(), **env})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return root / "opt" / "stackwatch", done.stdout, next((root / "dist").glob("*.whl"))


def test_the_image_installs_the_wheel_it_builds_and_imports_every_module_from_it(
        dists: Dists, image_venv: tuple[Path, str, Path]) -> None:
    venv, output, wheel = image_venv
    _copies, command, _env = dockerfile_build_stage()
    # The wheel it built, never the source tree (`pip install .`) nor an editable install.
    assert "pip install --no-compile /dist/stackwatch-" in command
    assert not re.search(r"pip install[^&]*\s(-e\s+)?\.(\s|$)", command)
    modules = [m for m in modules_of(dists.files) if not m.endswith("__main__.py")]
    assert f"{len(modules)} modules of /src/exporters and /src/alerting imported from the installed wheel" in output.replace(
        str(venv.parent.parent / "src"), "/src")
    assert f"stackwatch {__version__}" in output
    # The image's wheel (built from what the Dockerfile COPYs) holds what the clean tree's wheel holds.
    assert sorted(wheel_names(wheel)) == sorted(wheel_names(dists.wheel))
    installed = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    assert (installed / PACKAGE / "costs" / "state" / "ledger.py").is_file()
    assert not (installed / "__editable__.stackwatch-0.1.0.pth").exists()


# --- the install docs/getting-started.md documents, run as written ---

GETTING_STARTED = REPO / "docs" / "getting-started.md"
INSTALL_PREFIXES = ("python3 -m venv ~/.local/share/stackwatch", "~/.local/share/stackwatch/bin/")
_COMMENT = re.compile(r"\s{2,}#\s")


def documented_install() -> list[str]:
    """The install lines of getting-started.md (the block of `python3 -m venv ~/.local/share/stackwatch`)."""
    lines, inside = [], False
    for line in GETTING_STARTED.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("```"):
            inside = line.strip() == "```sh" and not inside
            continue
        text = _COMMENT.split(line, maxsplit=1)[0].strip()
        if inside and text.startswith(INSTALL_PREFIXES):
            lines.append(text)
    return lines


@pytest.fixture(scope="module")
def documented_venv(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The venv getting-started.md's install lines make, in a home of their own, from the clean tree's wheel."""
    home = tmp_path_factory.mktemp("home")
    lines = documented_install()
    assert len(lines) == 3 and any(f"pip install ./{dists.wheel.name}" in line for line in lines), lines
    shutil.copy2(dists.wheel, home / dists.wheel.name)
    shims = home / "shims"
    shims.mkdir()
    (shims / "python3").symlink_to(sys._base_executable)
    for line in lines:
        done = subprocess.run(["bash", "-c", line], cwd=home, capture_output=True, text=True, timeout=900,
                              env={"HOME": str(home), "PATH": f"{shims}:/usr/bin:/bin", **pip_env()})
        assert done.returncode == 0, (line, done.stdout[-2000:], done.stderr[-2000:])
    assert done.stdout == f"stackwatch {__version__}\n"  # the last line: the installed command answers
    return home / ".local" / "share" / "stackwatch"


# --- the installed command, outside the repository ---

def command(venv: Path, *args: str, cwd: Path, env: dict[str, str] | None = None,
            timeout: float = 180) -> subprocess.CompletedProcess:
    base = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run([str(venv / "bin" / "stackwatch"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**base, **(env or {})})


def test_version_and_demo_run_from_the_installed_package(documented_venv: Path, tmp_path: Path) -> None:
    venv = documented_venv
    version = command(venv, "--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout == f"stackwatch {__version__}\n", version
    demo = command(venv, "demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert "Providers" in demo.stdout and "Spend" in demo.stdout and "Traceback" not in demo.stderr


def test_check_config_refuses_the_example_placeholders_and_accepts_it_filled_in(
        documented_venv: Path, tmp_path: Path) -> None:
    venv = documented_venv
    example = (REPO / "stackwatch.example.yaml").read_text()
    (tmp_path / "stackwatch.yaml").write_text(example)
    tokens = {"VERCEL_TOKEN": "v-token-1234", "RENDER_API_KEY": "rnd_abcdef123456",
              "SUPABASE_ACCESS_TOKEN": "sbp_abcdef123456", "OPENAI_ADMIN_KEY": "sk-admin-abcdef123456"}
    refused = command(venv, "check-config", cwd=tmp_path, env=tokens)
    assert refused.returncode == 2 and "providers.vercel.team_id: still the example's placeholder" in refused.stderr
    (tmp_path / "stackwatch.yaml").write_text(example.replace("team_XXXXXXXXXXXXXXXXXXXXXXXX",
                                                              "team_a1B2c3D4e5F6g7H8i9J0k1L2"))
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in tokens.items()))
    accepted = command(venv, "check-config", "--env-file", ".env", cwd=tmp_path)
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.startswith("stackwatch.yaml: valid") and "v-token-1234" not in accepted.stdout


def test_run_exports_a_cycle_answers_healthz_and_stops_on_sigterm_then_costs_export(
        image_venv: tuple[Path, str, Path], tmp_path: Path) -> None:
    venv = image_venv[0]  # the image's venv: what compose's stackwatch service runs
    sim_port, port = free_port(), free_port()
    simulator = subprocess.Popen([str(venv / "bin" / "stackwatch"), "simulate", "--port", str(sim_port)],
                                 cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                 env={"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)})
    received = Received()
    server, endpoint = start_grpc(received)
    service = None
    try:
        base = f"http://127.0.0.1:{sim_port}"
        wait_for(lambda: urllib.request.urlopen(f"{base}/healthz", timeout=2).status == 200, "the simulator")
        config = simulator_config(base, overrides={
            "service": {"listen_host": "127.0.0.1", "listen_port": port, "metric_export_interval_seconds": 1},
            "providers": {name: {"poll_interval_seconds": 5} for name in DEFAULT_TOKENS}})
        (tmp_path / "stackwatch.yaml").write_text(yaml.safe_dump(config))
        env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), **simulator_env(),
               "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
        service = subprocess.Popen([str(venv / "bin" / "stackwatch"), "run", "--config", "stackwatch.yaml"],
                                   cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).status == 200,
                 "/healthz 200", service)
        # One poll cycle exported: every provider's up series and a cost arrive at the receiver.
        wait_for(lambda: {dict(a).get("provider") for a, v in received.latest_gauge("stackwatch.provider.up").items()
                          if v == 1} >= set(DEFAULT_TOKENS) and received.latest_gauge("stackwatch.cost.month_to_date_usd"),
                 "a cycle exported over OTLP", service)
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=30) == 0
        _out, logs = service.communicate(timeout=10)
        assert "stopped" in logs and "Traceback" not in logs

        export = command(venv, "costs", "export", "--config", "stackwatch.yaml", "--output", "costs.csv",
                         cwd=tmp_path, env=simulator_env())
        assert export.returncode == 0, export.stderr[-2000:]
        assert "cost records written to costs.csv" in export.stderr and "coverage" in export.stderr
        assert (tmp_path / "costs.csv").read_text().startswith("BilledCost,")
    finally:
        for process in (service, simulator):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        server.stop(0)


def wait_for(probe, what: str, process: subprocess.Popen | None = None, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"exited {process.returncode} before {what}: {process.communicate()[1][-2000:]}")
        try:
            if probe():
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_tests_run_the_installed_packages_not_the_checkout(image_venv: tuple[Path, str, Path],
                                                              documented_venv: Path) -> None:
    for venv in (image_venv[0], documented_venv):
        done = subprocess.run([str(venv / "bin" / "python"), "-I", "-c", "import exporters; print(exporters.__file__)"],
                              cwd="/", capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
        assert done.returncode == 0 and done.stdout.startswith(str(venv)), done
        assert os.path.commonpath([done.stdout.strip(), str(REPO)]) != str(REPO)
