"""The stack's files, checked by the tools the field uses and against each other.

Tests that run a real binary (otelcol, promtool, docker-compose, blackbox_exporter)
are marked e2e: they need `make tools`, and under CI=true they fail when a tool
is missing. The others are plain file checks.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from itertools import pairwise
from pathlib import Path

import jsonschema
import pytest
import yaml

from exporters.providers.vercel.drains import DRAIN_SECRET_ENV
from exporters.service.config import load_config
from exporters.simulator import simulator_config, simulator_env

from .conftest import REPO, Ports, cap_rule_intervals, collector_env, install_tools, prometheus_tree

COMPOSE = REPO / "docker-compose.yml"
COMPOSE_SCHEMA = Path(__file__).parent / "data" / "compose-spec.json"  # vendored, see data/README.md
ENV_EXAMPLE = REPO / ".env.example"


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=120, **kwargs)


def env_file(tmp_path: Path, **overrides: str) -> Path:
    """.env.example as a user would fill it in (the admin password set), plus overrides."""
    lines = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        key = line.split("=", 1)[0] if "=" in line and not line.startswith("#") else None
        if key == "GF_SECURITY_ADMIN_PASSWORD":
            line = "GF_SECURITY_ADMIN_PASSWORD=not-a-real-password"
        if key in overrides:
            line = f"{key}={overrides.pop(key)}"
        lines.append(line)
    lines += [f"{k}={v}" for k, v in overrides.items()]
    path = tmp_path / ".env"
    path.write_text("\n".join(lines) + "\n")
    return path


def resolved_compose(tools, tmp_path: Path, **env: str) -> dict:
    done = run([tools.docker_compose, "--project-directory", REPO, "-f", COMPOSE,
                "--env-file", env_file(tmp_path, **env), "config"], cwd=REPO)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


# --- docker-compose.yml ---

def test_compose_file_validates_against_the_compose_specification_schema():
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    jsonschema.Draft7Validator(schema).validate(compose())


def test_compose_file_has_no_version_or_name_key():
    assert "version" not in compose() and "name" not in compose()


@pytest.mark.e2e
def test_docker_compose_config_accepts_the_file_with_the_example_env(tools, tmp_path):
    done = run([tools.docker_compose, "--project-directory", REPO, "-f", COMPOSE,
                "--env-file", env_file(tmp_path), "config", "-q"], cwd=REPO)
    assert done.returncode == 0, done.stderr


@pytest.mark.e2e
def test_compose_refuses_to_start_without_a_grafana_admin_password(tools, tmp_path):
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("")
    done = run([tools.docker_compose, "--project-directory", REPO, "-f", COMPOSE,
                "--env-file", empty_env, "config", "-q"], cwd=REPO,
               env={"PATH": "/usr/bin:/bin"})
    assert done.returncode != 0
    assert "GF_SECURITY_ADMIN_PASSWORD" in done.stderr


def test_every_image_is_pinned_to_an_exact_version_tag():
    for name, service in compose()["services"].items():
        image = service.get("image")
        assert image, f"{name}: no image (built services name their image too)"
        assert ":" in image, f"{name}: {image} has no tag"
        tag = image.rsplit(":", 1)[1]
        assert tag != "latest" and re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{name}: {image} is not an exact version"


def test_dockerfile_base_images_are_pinned_to_an_exact_python_version():
    bases = re.findall(r"^FROM\s+(\S+)", (REPO / "Dockerfile").read_text(), flags=re.M)
    assert bases
    for base in bases:
        assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base


def test_dockerfile_runs_as_a_non_root_user_with_a_health_check():
    text = (REPO / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK\s", text, flags=re.M)


def test_every_service_has_a_health_check_and_every_dependency_a_condition():
    services = compose()["services"]
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name}: no health check"
        for dependency, spec in service.get("depends_on", {}).items():
            # A one-shot job (alerting-config renders files and exits) is waited for until it succeeds.
            one_shot = services[dependency].get("restart") == "no"
            allowed = ("service_completed_successfully",) if one_shot else ("service_healthy", "service_started")
            assert spec.get("condition") in allowed, (name, dependency)


def test_health_checks_probe_the_documented_endpoints():
    services = compose()["services"]
    tests = {name: " ".join(s["healthcheck"]["test"]) for name, s in services.items()}
    assert "/api/health" in tests["grafana"]
    assert "/-/ready" in tests["prometheus"]
    assert "/healthz" in tests["stackwatch"] and "/healthz" in tests["simulator"]
    assert "/-/healthy" in tests["blackbox-exporter"]


def test_simulator_runs_only_in_the_demo_profile():
    services = compose()["services"]
    assert services["simulator"]["profiles"] == ["demo"]
    assert all("profiles" not in s for n, s in services.items() if n != "simulator")
    # Real mode starts without the simulator, so nothing may depend on it.
    assert all("simulator" not in s.get("depends_on", {}) for s in services.values())


def test_prometheus_and_grafana_keep_their_data_in_named_volumes():
    data = compose()
    mounts = {name: data["services"][name]["volumes"] for name in ("prometheus", "grafana")}
    assert "prometheus-data:/prometheus" in mounts["prometheus"]
    assert "grafana-data:/var/lib/grafana" in mounts["grafana"]
    assert {"prometheus-data", "grafana-data"} <= set(data["volumes"])


def test_grafana_requires_an_admin_password_and_disables_anonymous_access():
    env = compose()["services"]["grafana"]["environment"]
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GF_SECURITY_ADMIN_PASSWORD:?")
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"


def test_grafana_mounts_provisioning_read_only_and_no_grafana_managed_alerting_by_default():
    volumes = compose()["services"]["grafana"]["volumes"]
    binds = [v for v in volumes if v.startswith("./")]
    assert binds and all(v.endswith(":ro") for v in binds)
    targets = {v.split(":")[1] for v in volumes}
    assert {"/etc/grafana/provisioning/datasources", "/etc/grafana/provisioning/dashboards"} <= targets
    # Alerts run in Prometheus and Alertmanager by default; Grafana's form is the opt-in override.
    assert "/etc/grafana/provisioning/alerting" not in targets


def test_prometheus_runs_the_otlp_receiver_with_a_retention():
    command = compose()["services"]["prometheus"]["command"]
    assert "--web.enable-otlp-receiver" in command
    assert any(arg.startswith("--storage.tsdb.retention.time=") for arg in command)


def bind_sources() -> list[tuple[str, str]]:
    """(service, host path with compose defaults applied) for every bind mount."""
    sources = []
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", volume.split(":/", 1)[0])
            if source.startswith((".", "/")):
                sources.append((name, source))
    return sources


def test_every_path_compose_mounts_exists_in_the_repository():
    sources = bind_sources()
    assert len(sources) >= 8
    for service, source in sources:
        assert (REPO / source).exists(), f"{service}: {source} does not exist"


def test_every_path_the_example_env_points_at_exists():
    for line in ENV_EXAMPLE.read_text().splitlines():
        if not line.startswith("#") and "=./" in line:
            assert (REPO / line.split("=", 1)[1]).exists(), line


def test_every_variable_compose_reads_is_documented_in_the_example_env():
    variables = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE.read_text()))
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), flags=re.M))
    assert variables - documented == set()
    # Each variable line belongs to a block that starts with a comment (no bare variables).
    lines = ENV_EXAMPLE.read_text().splitlines()
    for previous, line in pairwise(lines):
        if re.match(r"^[A-Z][A-Z0-9_]+=", line):
            assert previous.startswith("#") or re.match(r"^[A-Z][A-Z0-9_]+=", previous), line


def test_no_committed_stack_file_holds_a_credential():
    # The only credential-like values allowed are the simulator's fixed demo values.
    allowed = set(simulator_env().values()) | {"sim-service-role-secret"}
    pattern = re.compile(r"(sk-[A-Za-z0-9-]{10,}|sbp_[A-Za-z0-9_]{10,}|llx-[A-Za-z0-9-]{10,}|rnd_[A-Za-z0-9_]{10,}"
                         r"|glc_[A-Za-z0-9+/=]{10,}|eyJ[A-Za-z0-9_-]{20,})")
    files = [COMPOSE, ENV_EXAMPLE, REPO / "otel-collector.yaml", REPO / "stackwatch.demo.yaml",
             *(REPO / "prometheus").rglob("*"), *(REPO / "grafana" / "provisioning" / "datasources").rglob("*")]
    for path in (f for f in files if f.is_file()):
        for found in pattern.findall(path.read_text()):
            assert found in allowed, f"{path}: {found[:6]}… looks like a credential"
    key_file = REPO / "prometheus" / "targets" / "demo" / "supabase-service-role-key"
    assert key_file.read_text().strip() == "sim-service-role-secret"


def test_compose_default_provider_credentials_are_the_simulators_own_and_the_drain_secret_has_none():
    env = compose()["services"]["stackwatch"]["environment"]
    for variable, value in simulator_env().items():
        if variable == DRAIN_SECRET_ENV:  # optional: real mode without drains must start (tests/stack/test_real_mode.py)
            assert env[variable] == f"${{{variable}:-}}"
        else:
            assert env[variable] == f"${{{variable}:-{value}}}"


def test_demo_config_is_the_simulator_config_for_the_compose_network():
    demo = yaml.safe_load((REPO / "stackwatch.demo.yaml").read_text())
    expected = simulator_config("http://simulator:8080")
    assert {k: demo[k] for k in expected} == expected
    config = load_config(REPO / "stackwatch.demo.yaml")
    assert config.service.listen_port == 9464  # the port compose publishes and Prometheus scrapes
    # compose's health check probes the separate health port, which a drain flood cannot starve
    assert config.service.health_port == 9465
    check = " ".join(compose()["services"]["stackwatch"]["healthcheck"]["test"])
    assert f"127.0.0.1:{config.service.health_port}/healthz" in check


# --- versions: compose == native stack == builder manifest ---

def test_native_stack_versions_come_from_the_compose_file():
    versions = install_tools.compose_versions()
    images = install_tools.image_tags()
    assert images["otel/opentelemetry-collector-contrib"] == versions.collector
    assert images["prom/prometheus"] == f"v{versions.prometheus}"
    assert images["prom/blackbox-exporter"] == f"v{versions.blackbox}"
    assert images["prom/alertmanager"] == f"v{versions.alertmanager}"
    assert install_tools.prometheus_module_version("3.15.0") == "v0.315.0"


def test_builder_manifest_matches_the_compose_collector_version():
    manifest = yaml.safe_load((REPO / "tools" / "builder-config.yaml").read_text())
    version = install_tools.compose_versions().collector
    assert manifest["dist"]["version"] == version
    for kind in ("receivers", "processors", "exporters", "extensions"):
        for component in manifest[kind]:
            assert component["gomod"].endswith(f" v{version}"), component


def test_builder_manifest_lists_exactly_the_components_the_collector_config_uses():
    config = yaml.safe_load((REPO / "otel-collector.yaml").read_text())
    manifest = yaml.safe_load((REPO / "tools" / "builder-config.yaml").read_text())
    module_type = {"otlpreceiver": "otlp", "batchprocessor": "batch", "memorylimiterprocessor": "memory_limiter",
                   "resourceprocessor": "resource", "otlphttpexporter": "otlp_http", "debugexporter": "debug",
                   "healthcheckextension": "health_check"}
    for kind in ("receivers", "processors", "exporters", "extensions"):
        built = {module_type[c["gomod"].split()[0].rsplit("/", 1)[1]] for c in manifest[kind]}
        used = {name.split("/")[0] for name in config[kind]}
        assert built == used, kind


@pytest.mark.e2e
def test_native_binaries_are_the_pinned_versions(tools):
    versions = install_tools.compose_versions()
    otelcol = run([tools.otelcol, "--version"])
    assert f"version {versions.collector}" in otelcol.stdout
    prometheus = run([tools.prometheus, "--version"])
    assert f"version {versions.prometheus}" in prometheus.stdout + prometheus.stderr
    assert install_tools.blackbox_version(tools.blackbox_exporter) == versions.blackbox
    for binary in (tools.alertmanager, tools.amtool):
        done = run([binary, "--version"])
        assert f"version {versions.alertmanager}" in done.stdout + done.stderr


# --- the collector ---

def collector_validate(tools, env: dict[str, str]) -> subprocess.CompletedProcess:
    return run([tools.otelcol, "validate", f"--config={REPO / 'otel-collector.yaml'}"],
               env={"PATH": "/usr/bin:/bin", **env})


@pytest.mark.e2e
def test_otelcol_validates_the_config_as_compose_runs_it(tools, tmp_path):
    environment = resolved_compose(tools, tmp_path)["services"]["otel-collector"]["environment"]
    done = collector_validate(tools, {k: str(v) for k, v in environment.items()})
    assert done.returncode == 0, done.stderr


@pytest.mark.e2e
def test_otelcol_validates_the_config_with_the_external_exporter_switched_on(tools, tmp_path):
    environment = resolved_compose(
        tools, tmp_path, OTELCOL_METRICS_EXPORTERS="[otlp_http/prometheus,otlp_http/external,debug]",
        EXTERNAL_OTLP_ENDPOINT="https://otlp-gateway.example.net/otlp",
        EXTERNAL_OTLP_AUTHORIZATION="Basic dGVzdDp0ZXN0")["services"]["otel-collector"]["environment"]
    assert environment["OTELCOL_METRICS_EXPORTERS"] == "[otlp_http/prometheus,otlp_http/external,debug]"
    done = collector_validate(tools, {k: str(v) for k, v in environment.items()})
    assert done.returncode == 0, done.stderr


@pytest.mark.e2e
def test_otelcol_validate_rejects_an_exporter_the_config_does_not_define(tools):
    # Proves the validation above would catch a broken exporter list.
    done = collector_validate(tools, {"OTELCOL_METRICS_EXPORTERS": "[otlp_http/missing]"})
    assert done.returncode != 0 and "otlp_http/missing" in done.stderr


@pytest.mark.e2e
def test_otelcol_validates_the_native_stacks_substitutions(tools):
    done = collector_validate(tools, collector_env(Ports()))
    assert done.returncode == 0, done.stderr


# --- Prometheus and blackbox_exporter ---

@pytest.mark.e2e
def test_promtool_checks_the_prometheus_config_as_compose_mounts_it(tools, tmp_path):
    config = prometheus_tree(tmp_path, {})
    done = run([tools.promtool, "check", "config", config])
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.e2e
def test_promtool_checks_the_real_mode_targets(tools, tmp_path):
    config = prometheus_tree(tmp_path, {})
    for path in (REPO / "prometheus" / "targets" / "real").glob("*.yml"):
        (tmp_path / "targets" / path.name).write_text(path.read_text())
    example = REPO / "prometheus" / "targets" / "real" / "supabase-project.scrape.yml.example"
    (tmp_path / "targets" / "example.scrape.yml").write_text(example.read_text())
    done = run([tools.promtool, "check", "config", config])
    assert done.returncode == 0, done.stdout + done.stderr


def test_live_stacks_change_only_the_interval_of_rule_groups_slower_than_a_minute(tmp_path):
    shutil.copytree(REPO / "prometheus" / "rules", tmp_path / "rules")
    changed = cap_rule_intervals(tmp_path / "rules")
    assert changed and all(line.endswith("-> 1m") for line in changed), changed
    for path in (REPO / "prometheus" / "rules").glob("*.yaml"):
        committed = yaml.safe_load(path.read_text())["groups"]
        live = yaml.safe_load((tmp_path / "rules" / path.name).read_text())["groups"]
        assert [g["interval"] for g in live] == ["1m"] * len(committed)
        strip = lambda groups: [{k: v for k, v in g.items() if k != "interval"} for g in groups]  # noqa: E731
        assert strip(live) == strip(committed)


def test_prometheus_config_has_the_otlp_block_and_out_of_order_window():
    config = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())
    assert "deployment.environment" in config["otlp"]["promote_resource_attributes"]
    assert config["storage"]["tsdb"]["out_of_order_time_window"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert {"supabase", "blackbox", "otel-collector", "stackwatch"} <= set(jobs)
    assert jobs["supabase"]["scrape_interval"] == "60s"
    assert jobs["supabase"]["basic_auth"]["username"] == "service_role"
    assert "password_file" in jobs["supabase"]["basic_auth"]


@pytest.mark.e2e
def test_blackbox_exporter_accepts_its_config(tools):
    done = run([tools.blackbox_exporter, f"--config.file={REPO / 'prometheus' / 'blackbox.yml'}",
                "--config.check"])
    assert done.returncode == 0, done.stdout + done.stderr


def test_blackbox_modules_cover_the_probe_targets():
    modules = set(yaml.safe_load((REPO / "prometheus" / "blackbox.yml").read_text())["modules"])
    for mode in ("demo", "real"):
        groups = yaml.safe_load((REPO / "prometheus" / "targets" / mode / "probes.yml").read_text())
        assert {g["labels"]["tier"] for g in groups} == {"frontend", "backend"}
        assert {g["labels"]["module"] for g in groups} <= modules


# --- Grafana provisioning (the files this part owns) ---

def test_grafana_datasources_are_prometheus_with_its_rules_and_alertmanager_with_pinned_uids():
    data = yaml.safe_load((REPO / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text())
    assert data["apiVersion"] == 1
    prometheus, alertmanager = data["datasources"]
    assert prometheus["type"] == "prometheus" and prometheus["uid"] == "prometheus"
    assert prometheus["url"] == "${PROMETHEUS_URL}"
    # Grafana shows the rules Prometheus evaluates, and the Alertmanager they go to.
    assert prometheus["jsonData"]["manageAlerts"] is True and prometheus["jsonData"]["alertmanagerUid"] == "alertmanager"
    assert alertmanager["type"] == "alertmanager" and alertmanager["uid"] == "alertmanager"
    assert alertmanager["jsonData"]["implementation"] == "prometheus"
    assert alertmanager["jsonData"]["handleGrafanaManagedAlerts"] is False
    environment = compose()["services"]["grafana"]["environment"]
    assert environment["PROMETHEUS_URL"] == "http://prometheus:9090"
    assert alertmanager["url"] == "${ALERTMANAGER_URL}" and environment["ALERTMANAGER_URL"] == "http://alertmanager:9093"


def test_grafana_dashboard_provider_reads_the_mounted_directory():
    data = yaml.safe_load((REPO / "grafana" / "provisioning" / "dashboards" / "stackwatch.yaml").read_text())
    (provider,) = data["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/etc/grafana/provisioning/dashboards"


def test_demo_supabase_targets_are_the_simulators_projects():
    from exporters.simulator import Simulator, World

    projects = Simulator(World(seed=42)).providers["supabase"].projects()  # `stackwatch simulate`'s defaults
    groups = yaml.safe_load((REPO / "prometheus" / "targets" / "demo" / "supabase.yml").read_text())
    listed = {(g["labels"]["project"], g["labels"]["__metrics_path__"]) for g in groups}
    assert listed == {(p.name, f"/supabase-metrics/{p.ref}/customer/v1/privileged/metrics") for p in projects}
    assert all(g["targets"] == ["simulator:8080"] and g["labels"]["__scheme__"] == "http" for g in groups)


# --- the alert path: one by default, Grafana-managed only when opted in ---

def resolved_compose_files(tools, tmp_path: Path, *files: Path, profiles: str = "") -> dict:
    env = {**{k: v for k, v in __import__("os").environ.items() if k in ("PATH", "HOME")},
           **({"COMPOSE_PROFILES": profiles} if profiles else {})}
    done = run([tools.docker_compose, "--project-directory", REPO, *[a for f in files for a in ("-f", f)],
                "--env-file", env_file(tmp_path), "config"], cwd=REPO, env=env)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def targets(service: dict) -> dict[str, str]:
    out = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            out[volume["target"]] = str(volume.get("source"))
        else:
            source, target = volume.split(":")[:2]
            out[target] = source
    return out


@pytest.mark.e2e
def test_the_default_path_is_prometheus_and_alertmanager_and_grafana_managed_alerting_is_opt_in(tools, tmp_path):
    default = resolved_compose_files(tools, tmp_path, COMPOSE)["services"]
    assert {"alerting-config", "alertmanager", "prometheus", "grafana"} <= set(default)
    assert targets(default["prometheus"])["/etc/prometheus/alerting"].endswith("alerting-prometheus")
    assert targets(default["alertmanager"])["/etc/alertmanager/stackwatch"].endswith("alerting-alertmanager")
    assert "/etc/grafana/provisioning/alerting" not in targets(default["grafana"])
    assert default["alertmanager"]["depends_on"]["alerting-config"]["condition"] == "service_completed_successfully"
    opted = resolved_compose_files(tools, tmp_path, COMPOSE, REPO / "docker-compose.grafana-alerting.yml")["services"]
    # Never both: Grafana evaluates and notifies; Prometheus has no alert rules; no Alertmanager runs.
    assert targets(opted["grafana"])["/etc/grafana/provisioning/alerting"].endswith("alerting-grafana")
    assert targets(opted["prometheus"])["/etc/prometheus/alerting"].endswith("alerting/grafana-mode")
    assert not list((REPO / "alerting" / "grafana-mode").glob("*.rules.yaml"))
    # Alertmanager only in a profile nothing enables (docker-compose 1.29's `config` lists every
    # service; `up` starts a profiled one only when its profile is enabled or a service needs it).
    assert "profiles" not in default["alertmanager"] and opted["alertmanager"]["profiles"] == ["prometheus-alerting"]
    assert not any("alertmanager" in s.get("depends_on", {}) for s in opted.values())
    assert "prometheus-alerting" not in ENV_EXAMPLE.read_text()


def test_the_alertmanager_image_is_the_version_the_native_tests_build():
    service = compose()["services"]["alertmanager"]
    assert service["image"] == f"prom/alertmanager:v{install_tools.compose_versions().alertmanager}"
    assert "--enable-feature=receiver-name-in-metrics" in service["command"]
    assert compose()["services"]["alerting-config"]["command"][:3] == ["stackwatch", "alerts", "render"]
