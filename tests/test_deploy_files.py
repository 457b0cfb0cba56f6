"""The deployment files (docker-compose.yml, Procfile, Dockerfile, the `atp` script, deploy/) point at real
code, and the dashboards and alert rules at metrics the code really exports.

Fast and offline: no Docker, no network. The Compose file is checked against the Compose specification
schema vendored inside check-jsonschema, and every process command is resolved to the Python object it
would load, which is then imported for real.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import ipaddress
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
PROCFILE = ROOT / "Procfile"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PYPROJECT = ROOT / "pyproject.toml"

# The processes our image runs, by Compose service; each must resolve to importable code.
APP_SERVICES = ("migrate", "web", "worker", "worker-slow")


# ---------------------------------------------------------------------------------------------- helpers


@functools.cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@functools.cache
def pyproject() -> dict[str, Any]:
    return tomllib.loads(PYPROJECT.read_text())


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def image_services() -> dict[str, dict[str, Any]]:
    """Services that run the image built from this repository (the collector builds an image of its own)."""
    return {name: svc for name, svc in services().items() if svc.get("build") == "."}


def with_defaults(value: str) -> str:
    """Resolve Compose interpolation `${VAR:-default}` / `${VAR-default}` as an unset VAR would."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", r"\1", value)


def argv_of(command: str | list[str]) -> list[str]:
    argv = shlex.split(command) if isinstance(command, str) else [str(part) for part in command]
    if argv[:2] == ["sh", "-c"]:  # shell form: look at the command the shell execs
        argv = shlex.split(argv[2])
    return argv[1:] if argv[:1] == ["exec"] else argv


def option_value(argv: list[str], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def dependency_names() -> set[str]:
    names = set()
    for requirement in pyproject()["project"]["dependencies"]:
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
        assert match, requirement
        names.add(re.sub(r"[-_.]+", "-", match.group(0)).lower())
    return names


def load_object(module: str, attribute: str) -> Any:
    """Import `module` and walk the dotted `attribute`, failing with a message that says what is missing."""
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:  # a parent package is missing
        spec = None
    assert spec is not None, f"module {module!r} does not exist"
    obj: Any = importlib.import_module(module)
    for part in attribute.split("."):
        assert hasattr(obj, part), f"{module}:{attribute}: no attribute {part!r}"
        obj = getattr(obj, part)
    return obj


def check_console_script(name: str, argv: list[str]) -> None:
    """`name` is a [project.scripts] entry pointing at a callable that accepts the subcommand in `argv`."""
    scripts = pyproject()["project"].get("scripts", {})
    assert name in scripts, f"console script {name!r} is not declared in [project.scripts]"
    module, _, attribute = scripts[name].partition(":")
    assert attribute, f"[project.scripts] {name} = {scripts[name]!r} names no callable"
    assert callable(load_object(module.strip(), attribute.strip()))
    if argv:
        # Ask the real CLI for the subcommand's help: proves the subcommand exists without running it.
        code = f"import sys; from {module.strip()} import {attribute.strip()} as main; main(sys.argv[1:])"
        result = subprocess.run(
            [sys.executable, "-c", code, argv[0], "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        assert result.returncode == 0, f"`{name} {argv[0]}` is not a valid command:\n{result.stderr}"


def check_command(command: str | list[str]) -> None:
    """The process a command starts comes from a declared dependency or script, and its target imports."""
    argv = argv_of(command)
    program, args = argv[0], argv[1:]
    if program == "uvicorn":
        assert "uvicorn" in dependency_names()
        targets = [arg for arg in args if re.fullmatch(r"[\w.]+:[\w.]+", arg)]
        assert len(targets) == 1, f"no single module:attribute app in {argv}"
        module, attribute = targets[0].split(":")
        app = load_object(module, attribute)
        if "--factory" in args:
            assert callable(app), f"{targets[0]} is used as a factory but is not callable"
            # uvicorn calls the factory with no arguments.
            inspect.signature(app).bind()
        else:
            assert callable(app), f"{targets[0]} is not an ASGI application"
    elif program == "arq":
        assert "arq" in dependency_names()
        targets = [arg for arg in args if not arg.startswith("-")]
        assert len(targets) == 1, f"no single worker settings path in {argv}"
        module, _, attribute = targets[0].rpartition(".")
        settings = load_object(module, attribute)
        # arq refuses to start a worker with nothing to run.
        jobs = list(getattr(settings, "functions", []) or []) + list(getattr(settings, "cron_jobs", []) or [])
        assert jobs, f"{targets[0]} registers no functions or cron jobs"
    elif program == "python" and args[:1] == ["-m"]:
        module = importlib.import_module(args[1] + ".__main__") if len(args) > 1 else None
        assert module is not None and callable(getattr(module, "main", None)), f"{argv} runs no main()"
        if args[1] == "workers":
            from workers.main import SETTINGS

            queue = option_value(args, "--queue") or "main"
            assert SETTINGS[queue].functions and SETTINGS[queue].cron_jobs
    else:
        check_console_script(program, args)


def parse_procfile() -> dict[str, str]:
    processes: dict[str, str] = {}
    for line in PROCFILE.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_-]+):\s*(\S.*)", line)
        assert match, f"malformed Procfile line: {line!r}"
        assert match.group(1) not in processes, f"duplicate process type {match.group(1)!r}"
        processes[match.group(1)] = match.group(2).strip()
    return processes


def healthcheck_enabled(service: dict[str, Any]) -> bool:
    check = service.get("healthcheck") or {}
    test = check.get("test")
    if check.get("disable") in (True, "true") or not test:
        return False
    return (test if isinstance(test, str) else test[0]) != "NONE"


def replicas(service: dict[str, Any]) -> int:
    return int((service.get("deploy") or {}).get("replicas", 1))


def run_schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    # Any attempt to fetch something would hit a dead proxy and fail: the check must be offline.
    dead_proxy = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
    env = {**os.environ, **dead_proxy, **{key.lower(): value for key, value in dead_proxy.items()}}
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


# ------------------------------------------------------------------------------------------ compose file


def test_compose_file_matches_the_compose_specification() -> None:
    result = run_schema_check(COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "version" not in compose(), "the Compose specification has no `version:` key any more"


def test_schema_check_rejects_an_invalid_compose_file(tmp_path: Path) -> None:
    broken = compose() | {"services": services() | {"web": services()["web"] | {"restartt": "always"}}}
    path = tmp_path / "docker-compose.yml"
    path.write_text(json.dumps(broken))
    result = run_schema_check(path)
    assert result.returncode != 0 and "restartt" in result.stdout + result.stderr, result.stdout


def test_every_image_service_has_a_healthcheck_or_is_one_shot() -> None:
    assert set(APP_SERVICES) <= set(image_services()), "migrate, web and worker must run our image"
    awaited_to_complete = {
        dependency
        for svc in services().values()
        if isinstance(svc.get("depends_on"), dict)
        for dependency, spec in svc["depends_on"].items()
        if spec.get("condition") == "service_completed_successfully"
    }
    for name, svc in image_services().items():
        if healthcheck_enabled(svc):
            continue
        # One-shot: runs to completion once, never restarted, and something waits for that completion.
        # (YAML reads an unquoted `no` as False.)
        one_shot = svc.get("restart", "no") in ("no", False) and replicas(svc) == 1
        assert one_shot and name in awaited_to_complete, f"{name}: neither a healthcheck nor a one-shot job"


def test_health_conditions_point_at_services_with_a_healthcheck() -> None:
    for name, svc in services().items():
        for dependency, spec in (svc.get("depends_on") or {}).items():
            assert dependency in services(), f"{name} depends on unknown service {dependency!r}"
            if spec.get("condition") == "service_healthy":
                assert healthcheck_enabled(services()[dependency]), f"{name} waits on {dependency} health"


@pytest.mark.parametrize("name", ["web", "worker"])
def test_app_processes_start_after_their_dependencies(name: str) -> None:
    depends = services()[name]["depends_on"]
    for backing in ("postgres", "redis"):
        assert depends[backing]["condition"] == "service_healthy"
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert services()["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_compose_commands_resolve_to_code(name: str) -> None:
    check_command(services()[name]["command"])


def test_web_trusts_forwarded_headers_only_from_the_proxy_network() -> None:
    web = services()["web"]
    argv = [with_defaults(arg) for arg in argv_of(web["command"])]
    assert "--proxy-headers" in argv
    allowed = option_value(argv, "--forwarded-allow-ips")
    assert allowed and "*" not in allowed, "forwarded headers must not be trusted from everyone"
    trusted = [ipaddress.ip_network(part.strip(), strict=False) for part in allowed.split(",")]

    networks = compose().get("networks") or {}
    for net in trusted:
        homes = [
            key
            for key, spec in networks.items()
            for block in ((spec or {}).get("ipam") or {}).get("config", [])
            if ipaddress.ip_network(with_defaults(block["subnet"]), strict=False) == net
        ]
        assert len(homes) == 1, f"{net} is not the subnet of exactly one Compose network"
        members = {key for key, svc in services().items() if homes[0] in (svc.get("networks") or [])}
        proxies = {key for key in members - {"web"} if services()[key].get("ports")}
        assert "web" in members and proxies, f"network {homes[0]} must join web and the proxy"
        assert members == {"web"} | proxies, f"only web and the proxy may sit on {homes[0]}: {members}"


def test_replicated_services_publish_no_fixed_host_port() -> None:
    assert replicas(services()["web"]) > 1 and replicas(services()["worker"]) > 1
    for name, svc in services().items():
        if replicas(svc) == 1:
            continue
        for port in svc.get("ports") or []:
            fixed = port.get("published") if isinstance(port, dict) else ":" in with_defaults(str(port))
            assert not fixed, f"{name} has {replicas(svc)} replicas but publishes a fixed host port: {port}"


# ----------------------------------------------------------------------------------------------- Procfile


def test_procfile_declares_web_worker_and_release() -> None:
    processes = parse_procfile()
    assert set(processes) == {"web", "worker", "slow-worker", "release"}
    web = argv_of(processes["web"])
    assert web[0] == "uvicorn" and "--factory" in web
    assert option_value(web, "--host") == "0.0.0.0"
    assert option_value(web, "--port") in ("$PORT", "${PORT}")
    assert argv_of(processes["worker"]) == ["python", "-m", "workers"]  # the resilient worker, not bare arq
    assert argv_of(processes["slow-worker"]) == ["python", "-m", "workers", "--queue", "slow"]
    assert argv_of(processes["release"]) == ["atp", "migrate"]


@pytest.mark.parametrize("process", ["web", "worker", "slow-worker", "release"])
def test_procfile_commands_resolve_to_code(process: str) -> None:
    check_command(parse_procfile()[process])


def test_atp_console_script_is_an_importable_callable() -> None:
    assert pyproject()["project"]["scripts"]["atp"] == "app.cli:main"
    check_console_script("atp", [])


# --------------------------------------------------------------------------------------------- Dockerfile


def dockerfile_final_stage() -> list[str]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    last_from = max(i for i, line in enumerate(lines) if line.upper().startswith("FROM "))
    return lines[last_from:]


def test_dockerfile_runs_as_non_root_with_a_healthcheck() -> None:
    stage = dockerfile_final_stage()
    assert stage[0].split()[1] == "python:3.11-slim"
    users = [line.split()[1] for line in stage if line.upper().startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image must not run as root"
    checks = [line for line in stage if line.upper().startswith("HEALTHCHECK ")]
    assert len(checks) == 1 and "/health" in checks[0] and "urllib" in checks[0]


def test_dockerfile_default_command_is_the_web_server() -> None:
    cmd = [line for line in dockerfile_final_stage() if line.upper().startswith("CMD ")][-1]
    argv = json.loads(cmd[4:])
    assert argv_of(argv)[0] == "uvicorn"
    check_command(argv)


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    patterns = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    assert {".venv", ".data", ".git"} <= patterns
    assert "**/__pycache__" in patterns, "a bare `__pycache__` only matches at the context root"


# ------------------------------------------------------------------------------------------ observability

DEPLOY = ROOT / "deploy"
PROMETHEUS_FILE = DEPLOY / "prometheus" / "prometheus.yml"
ALERTS_FILE = DEPLOY / "prometheus" / "alerts.yml"
COLLECTOR_FILE = DEPLOY / "otel-collector.yaml"
DASHBOARD_FILE = DEPLOY / "grafana" / "dashboards" / "atp.json"
DATASOURCES_FILE = DEPLOY / "grafana" / "provisioning" / "datasources" / "datasources.yml"
DASHBOARD_PROVIDER_FILE = DEPLOY / "grafana" / "provisioning" / "dashboards" / "atp.yml"
OBSERVABILITY_SERVICES = ("prometheus", "grafana", "otel-collector", "jaeger")
# Labels Prometheus adds to every scraped series.
TARGET_LABELS = {"job", "instance"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless"}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@functools.cache
def exported_metrics() -> dict[str, frozenset[str]]:
    """Every series name the app's processes export (web: realtime + HTTP; worker), with its labels."""
    from app.core.metrics import HttpMetrics, WorkerMetrics
    from realtime.metrics import Metrics

    names: dict[str, frozenset[str]] = {"up": frozenset(TARGET_LABELS)}
    for registry in (Metrics().registry, HttpMetrics().registry, WorkerMetrics().registry):
        for name, collector in registry._names_to_collectors.items():
            labels = set(getattr(collector, "_labelnames", ()))
            if name.endswith("_bucket"):
                labels.add("le")
            names[name] = frozenset(labels | TARGET_LABELS)
        # Collectors that describe nothing up front (process_*) are known by what they collect.
        for metric in registry.collect():
            for sample in metric.samples:
                names.setdefault(sample.name, frozenset(set(sample.labels) | TARGET_LABELS))
    return names


def promql_metrics(expr: str) -> list[str]:
    """The series names an expression reads (ours are atp_*, process_* and Prometheus's own `up`)."""
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    without_matchers = re.sub(r"\{[^}]*\}", "", without_strings)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_matchers)
    return re.findall(r"\b(atp_[a-z0-9_]+|process_[a-z0-9_]+|up)\b(?!\s*\()", without_ranges)


def check_promql(expr: str, where: str) -> set[str]:
    """Every series `expr` reads is exported, and every label it selects or groups by exists on it."""
    metrics = promql_metrics(expr)
    assert metrics, f"{where}: reads no metric of ours: {expr}"
    exported = exported_metrics()
    labels: set[str] = set()
    for name in metrics:
        assert name in exported, f"{where}: {name} is not exported by the app ({expr})"
        labels |= exported[name]
    for name, matchers in re.findall(r"\b([a-z_][a-z0-9_]*)\s*\{([^}]*)\}", expr):
        for label in re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", matchers):
            assert label in exported.get(name, frozenset()), f"{where}: {name} has no label {label!r}"
    for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        for label in (part.strip() for part in group.split(",") if part.strip()):
            assert label in labels, f"{where}: no metric in {expr!r} has the label {label!r}"
    return set(metrics)


def dashboard_exprs() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD_FILE.read_text())
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(ALERTS_FILE)["groups"] for rule in group["rules"]]


def bind_mounts(service: dict[str, Any]) -> dict[str, str]:
    """Host path (relative to the compose file) -> container path, for `./…` volumes."""
    mounts = {}
    for volume in service.get("volumes") or []:
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            mounts[source] = target
    return mounts


def host_path(container_path: str, service: dict[str, Any]) -> Path | None:
    """The file in this repository that a container path of `service` is mounted from."""
    for source, target in bind_mounts(service).items():
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return ROOT / source / container_path[len(target) :].lstrip("/")
    return None


def app_environment() -> dict[str, str]:
    return {key: str(value) for key, value in services()["web"]["environment"].items()}


def test_every_long_running_service_has_a_healthcheck_and_restarts_unless_stopped() -> None:
    for name, svc in services().items():
        if name == "migrate":
            assert svc["restart"] in ("no", False)
            continue
        assert healthcheck_enabled(svc), f"{name} has no healthcheck"
        assert svc.get("restart") == "unless-stopped", f"{name}: restart is {svc.get('restart')!r}"
    assert set(OBSERVABILITY_SERVICES) <= set(services())


def test_observability_processes_never_gate_the_app() -> None:
    """Web and worker keep running (and start) whatever happens to metrics or tracing."""
    for name in ("web", "worker"):
        assert not set(services()[name]["depends_on"]) & set(OBSERVABILITY_SERVICES)


def test_observability_files_parse_and_every_mounted_file_exists() -> None:
    for path in (PROMETHEUS_FILE, ALERTS_FILE, COLLECTOR_FILE, DATASOURCES_FILE, DASHBOARD_PROVIDER_FILE):
        assert isinstance(load_yaml(path), dict), path
    assert json.loads(DASHBOARD_FILE.read_text())["panels"]
    for name, svc in services().items():
        for source in bind_mounts(svc):
            assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"


def test_prometheus_scrapes_every_web_and_worker_replica_with_the_metrics_token() -> None:
    config = load_yaml(PROMETHEUS_FILE)
    prometheus = services()["prometheus"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    web_port = option_value(argv_of(services()["web"]["command"]), "--port")
    worker_port = int(app_environment()["ATP_METRICS_PORT"])
    ports = {"web": int(web_port or 0), "worker": worker_port, "worker-slow": worker_port}
    for service, job_name in (
        ("web", "atp-web"),
        ("worker", "atp-worker"),
        ("worker-slow", "atp-worker-slow"),
    ):
        job = jobs[job_name]
        assert job.get("metrics_path", "/metrics") == "/metrics"
        (sd,) = job["dns_sd_configs"]
        assert sd["names"] == [service] and sd["port"] == ports[service], job_name
        token_file = job["authorization"]["credentials_file"]
        secret = token_file.removeprefix("/run/secrets/")
        assert secret in prometheus["secrets"] and secret in services()[service]["secrets"]
        assert secret in compose()["secrets"]
    # The app reads the same secret: the entrypoint turns ATP_METRICS_TOKEN_FILE into ATP_METRICS_TOKEN.
    assert app_environment()["ATP_METRICS_TOKEN_FILE"] == token_file
    entrypoint_vars = re.search(r"for var in ([A-Z_ ]+); do", DOCKERFILE.read_text())
    assert entrypoint_vars and "ATP_METRICS_TOKEN" in entrypoint_vars.group(1).split()
    (rule_file,) = config["rule_files"]
    assert host_path(rule_file, prometheus) == ALERTS_FILE
    assert host_path("/etc/prometheus/prometheus.yml", prometheus) == PROMETHEUS_FILE


def test_the_worker_settings_serve_metrics_and_the_app_reads_the_token() -> None:
    from app.realtime.service import realtime_config
    from app.settings import load_settings

    assert realtime_config(load_settings(), {"ATP_METRICS_TOKEN": "t"}).metrics_token == "t"
    source = (ROOT / "workers" / "observability.py").read_text()
    assert '"ATP_METRICS_PORT"' in source and '"ATP_METRICS_TOKEN"' in source


def test_dashboard_queries_use_metrics_the_app_exports() -> None:
    used: set[str] = set()
    for title, expr in dashboard_exprs():
        used |= check_promql(expr, f"panel {title!r}")
    # What operators asked for: requests and latency by route, 5xx, sockets, fan-out and relay lag,
    # outbox backlog, queue depth and job outcomes, webhook failures, holds per minute.
    wanted = {
        "atp_http_requests_total",
        "atp_http_request_duration_seconds_bucket",
        "atp_realtime_connections",
        "atp_realtime_frames_sent_total",
        "atp_realtime_relay_lag_seconds_bucket",
        "atp_outbox_backlog",
        "atp_queue_jobs",
        "atp_jobs_total",
        "atp_webhook_deliveries_total",
        "atp_events_total",
    }
    assert wanted <= used, wanted - used
    assert any('type="hold.placed"' in expr for _, expr in dashboard_exprs())


def test_dashboard_datasources_are_provisioned() -> None:
    uids = {source["uid"] for source in load_yaml(DATASOURCES_FILE)["datasources"]}
    dashboard = json.loads(DASHBOARD_FILE.read_text())
    for panel in dashboard["panels"]:
        for target in [panel, *panel.get("targets", [])]:
            if "datasource" in target:
                assert target["datasource"]["uid"] in uids, panel["title"]
    grafana = services()["grafana"]
    (provider,) = load_yaml(DASHBOARD_PROVIDER_FILE)["providers"]
    assert host_path(provider["options"]["path"] + "/atp.json", grafana) == DASHBOARD_FILE
    assert host_path("/etc/grafana/provisioning/datasources/datasources.yml", grafana) == DATASOURCES_FILE
    for source in load_yaml(DATASOURCES_FILE)["datasources"]:
        host = re.match(r"https?://([^:/]+)", source["url"]).group(1)
        assert host in services(), f"datasource {source['name']} points at unknown service {host}"


def test_alert_rules_cover_the_failures_operators_page_on_and_use_real_metrics() -> None:
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    used: dict[str, set[str]] = {}
    for rule in rules:
        used[rule["alert"]] = check_promql(rule["expr"], f"alert {rule['alert']}")
        assert rule["annotations"]["summary"]
    assert "atp_realtime_relay_lag_seconds_bucket" in used["ATPRelayLagHigh"]
    assert "atp_outbox_oldest_unpublished_seconds" in used["ATPOutboxStuck"]
    assert {"atp_webhook_deliveries_total", "atp_notification_deliveries_total"} <= used["ATPDeadLetters"]
    assert used["ATPHigh5xxRate"] == {"atp_http_requests_total"}
    assert 'job="atp-worker"' in next(r["expr"] for r in rules if r["alert"] == "ATPWorkerAbsent")


def test_check_promql_catches_a_misspelt_metric_or_label() -> None:
    with pytest.raises(AssertionError, match="not exported"):
        check_promql("sum(rate(atp_http_request_total[5m]))", "test")
    with pytest.raises(AssertionError, match="no label"):
        check_promql('sum(rate(atp_jobs_total{result="dead"}[5m]))', "test")
    with pytest.raises(AssertionError, match="has the label"):
        check_promql("sum by (endpoint) (rate(atp_jobs_total[5m]))", "test")


def test_traces_flow_from_the_app_to_the_collector_to_jaeger() -> None:
    collector = load_yaml(COLLECTOR_FILE)
    endpoint = app_environment()["OTEL_EXPORTER_OTLP_ENDPOINT"]
    host, port = re.fullmatch(r"\$\{OTEL_EXPORTER_OTLP_ENDPOINT-http://([\w-]+):(\d+)\}", endpoint).groups()
    assert host == "otel-collector" and host in services()
    assert collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(f":{port}")
    pipeline = collector["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"] and "batch" in pipeline["processors"]
    for exporter in pipeline["exporters"]:
        target = collector["exporters"][exporter]["endpoint"].split(":")[0]
        assert target in services(), f"collector exports to unknown service {target}"
    # The healthcheck probes the health_check extension; Prometheus scrapes the collector's own metrics.
    health_port = collector["extensions"]["health_check"]["endpoint"].rsplit(":", 1)[1]
    assert f":{health_port}/" in " ".join(services()["otel-collector"]["healthcheck"]["test"])
    assert "health_check" in collector["service"]["extensions"]
    (reader,) = collector["service"]["telemetry"]["metrics"]["readers"]
    metrics_port = reader["pull"]["exporter"]["prometheus"]["port"]
    jobs = {job["job_name"]: job for job in load_yaml(PROMETHEUS_FILE)["scrape_configs"]}
    assert jobs["otel-collector"]["static_configs"][0]["targets"] == [f"otel-collector:{metrics_port}"]
    assert host_path("/etc/otelcol/config.yaml", services()["otel-collector"]) == COLLECTOR_FILE


def test_observability_uis_listen_on_localhost_only() -> None:
    for name in ("prometheus", "grafana", "jaeger"):
        for port in services()[name].get("ports") or []:
            assert with_defaults(str(port)).startswith("127.0.0.1:"), f"{name} publishes {port} to everyone"
