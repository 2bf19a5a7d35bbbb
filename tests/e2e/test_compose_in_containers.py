"""`docker compose up -d cost-exporter`, proven in real containers.

The README's "Quick start with Docker", run step by step (quickstart.py reads it) in a
copy of the repository, with podman standing in for Docker (podman.py) and the compose
file read as `docker compose` reads it (compose.py): the image is built from the
repository's Dockerfile, and every service starts with the ports, volumes, env file,
secret files, user, read-only root and healthcheck the compose file gives it. Then:

* the exporter: `/metrics` serves the example bills, `POST /refresh` answers, the
  healthcheck turns healthy, an API key given as a file (`*_FILE`) authenticates against
  a local fake of OpenAI's API and never shows in `podman logs`, it runs as the compose
  file's non-root user on a read-only root, and a restart serves the snapshot kept in the
  state volume without calling any API;
* Prometheus and Alertmanager on stand-in images built from Debian's packages
  (Prometheus 2.42, Alertmanager 0.25) tagged with the compose file's image names:
  Prometheus scrapes the exporter by its service name, the rules load, Alertmanager
  accepts its config, both healthchecks pass;
* Grafana cannot run here (see GRAFANA_UNAVAILABLE); the dashboard's queries are checked
  against real Prometheus in test_dashboard_queries.py.

It prints the image size (the layers the Dockerfile adds to its base, and the local base
apart) and the start-up time (`podman start` to the first `/metrics` 200). Figures are
printed, never asserted: the target is under 60 MB added and under 5 s.

What differs from a user's machine, all of it here and none of it in the product:
published host ports are free ports (`COST_EXPORTER_PUBLISHED_PORT` in `.env`, and a
remap for Prometheus' and Alertmanager's fixed ones), `.env` points `OPENAI_BASE_URL` at
the local fake, and the copy of prometheus/prometheus.yml scrapes and evaluates every 2 s
instead of every minute.

Run it with `make containers` (as root: podman with its own storage, debootstrap). It is
left out of `make test` (`-m "not containers"` in pyproject.toml). Without podman it
skips saying what to install; with CI set it fails instead.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e import podman as podman_module
from tests.e2e.compose import Project
from tests.e2e.harness import free_port, sample_value, wait_until
from tests.e2e.podman import Podman, report
from tests.e2e.quickstart import Step, steps
from tests.fake_providers import (
    BASE_PATHS,
    FIXED_MONTH_TO_DATE,
    OPENAI_ADMIN_KEY,
    FakeProviders,
    expected_manual_month_to_date,
)

pytestmark = pytest.mark.containers

ROOT = Path(__file__).resolve().parents[2]
EXPORTER = "cost-exporter"
DEMO = "cost-exporter-demo"
DEMO_PUBLISHED_PORT = 9211
GRAFANA_UNAVAILABLE = (
    "Grafana cannot run here: no image registry is reachable to pull grafana/grafana and "
    "Debian has no Grafana package to build a stand-in from; the Costs dashboard's queries "
    "run against real Prometheus in tests/e2e/test_dashboard_queries.py"
)
# The README's placeholders, and what the test writes instead.
PLACEHOLDERS = {"sk-admin-...": OPENAI_ADMIN_KEY, "choose-a-password": secrets.token_urlsafe(16)}
# Containers reach the host (and the fake provider API on it) through their network's gateway.
HOST_FROM_CONTAINERS = "host.containers.internal"
SHORT_INTERVAL = "2s"
HEALTH_TIMEOUT_S = 90.0
HTTP_TIMEOUT_S = 60.0
START_TARGET_S = 5.0
ADDED_TARGET_MB = 60.0


# --- the lab: a project copy, podman, the fake API ---------------------------------------------


@dataclass
class Lab:
    podman: Podman
    directory: Path  # the copy of the repository the README steps run in
    logs: Path
    fake: FakeProviders
    host_ports: dict[int, int]  # published port in the compose file -> free port used here
    # `docker compose -p`: containers, volumes and the network get names of their own, so two
    # runs on one machine never share one (netavark's DNS and address records are global).
    project_name: str
    figures: dict[str, str] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)
    answers: dict[str, httpx.Response] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    _running: dict[str, tuple[list[str], str]] = field(default_factory=dict)
    _built: set[str] = field(default_factory=set)
    _network: str | None = None

    @property
    def project(self) -> Project:
        # Re-read every time: a step may have changed .env.
        return Project.load(self.directory, self.project_name)

    def container(self, service: str) -> str:
        return self.project.container_name(service)

    def url(self, readme_url: str) -> str:
        """A README URL (`http://localhost:9210/...`) on the port published here."""
        match = re.fullmatch(r"http://localhost:(\d+)(/.*)?", readme_url)
        assert match, readme_url
        port = self.host_ports.get(int(match[1]), int(match[1]))
        return f"http://127.0.0.1:{port}{match[2] or ''}"

    def exporter_url(self, path: str) -> str:
        return self.url(f"http://localhost:9210{path}")

    # podman

    def inspect(self, name: str, template: str) -> str:
        return self.podman.run("inspect", "--format", template, name).stdout.strip()

    def container_logs(self, service: str) -> str:
        result = self.podman.run("logs", self.container(service))
        return result.stdout + result.stderr

    def exec(
        self, service: str, *argv: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.podman.run("exec", self.container(service), *argv, check=check)

    def health(self, service: str) -> str:
        """Run the container's healthcheck once; its state afterwards."""
        name = self.container(service)
        self.podman.run("healthcheck", "run", name, check=False)
        return self.inspect(name, "{{.State.Health.Status}}")

    def wait_healthy(self, service: str) -> None:
        wait_until(
            lambda: self.health(service) == "healthy",
            f"{service} healthy (podman healthcheck run)",
            timeout=HEALTH_TIMEOUT_S,
            interval=1.0,
            diagnostics=lambda: self.diagnostics(service),
        )

    def diagnostics(self, service: str) -> str:
        name = self.container(service)
        state = self.podman.run("inspect", "--format", "{{json .State}}", name, check=False)
        logs = self.podman.run("logs", "--tail", "40", name, check=False)
        return f"--- {name} state: {state.stdout.strip()}\n--- logs:\n{logs.stdout}{logs.stderr}"

    # docker compose up -d [services]

    def build(self, service: str) -> None:
        project = self.project
        image = project.image(service)
        context = project.build_context(service)
        if context is None or image in self._built:
            return
        seconds = self.podman.build(context, image, log=self.logs / f"build-{service}.log")
        self._built.add(image)
        added = self.podman.image_size(image) - self.podman.image_size(podman_module.PYTHON.tag)
        base = self.podman.image_size(podman_module.PYTHON.tag)
        self.figures["image build"] = f"{seconds:.0f} s (docker build of {image}, pip from PyPI)"
        self.figures["image added by the Dockerfile"] = (
            f"{added / 1e6:.1f} MB (target < {ADDED_TARGET_MB:.0f} MB)"
        )
        self.figures["local stand-in base (Debian python3)"] = (
            f"{base / 1e6:.0f} MB (the official python:3.11-slim-bookworm is smaller)"
        )
        report(f"built {image} in {seconds:.0f} s: {added / 1e6:.1f} MB on top of its base")

    def up(self, services: list[str], profiles: frozenset[str] = frozenset()) -> None:
        """`docker compose [--profile P] up -d [services]`."""
        project = self.project
        active = project.services(profiles)
        wanted = set(services)
        if wanted:  # compose starts what the named services depend on too
            for name in list(wanted):
                wanted |= set(active) & self._dependencies(project, name)
        order = [s for s in active if not wanted or s in wanted]
        if self._network is None:
            self.podman.run("network", "create", project.network)
            self._network = project.network
        for service in order:
            self.build(service)
            image = project.image(service)
            if not self.podman.exists(image):
                self.skipped[service] = (
                    GRAFANA_UNAVAILABLE if service == "grafana" else f"no image {image} here"
                )
                report(f"{service}: not started: {self.skipped[service]}")
                continue
            for dependency, condition in project.depends_on(service).items():
                if condition == "service_healthy":
                    self.wait_healthy(dependency)
            env_file = self.logs / f"{service}.env"
            args = project.run_args(service, env_file=env_file, host_ports=self.host_ports)
            desired = (args, env_file.read_text(encoding="utf-8"))
            if self._running.get(service) == desired:
                continue  # unchanged: compose leaves a running container alone
            if service in self._running:
                self.podman.run("rm", "--force", "--time", "10", self.container(service))
            self.started[service] = time.monotonic()
            self.podman.run("run", "--detach", "--pull=never", *args)
            self._running[service] = desired
            report(f"{service}: started ({image})")

    def _dependencies(self, project: Project, service: str) -> set[str]:
        found: set[str] = set()
        for dependency in project.depends_on(service):
            found |= {dependency} | self._dependencies(project, dependency)
        return found

    # the README's steps

    def run_step(self, step: Step) -> None:
        report(f"README: {step.command}")
        args = step.args
        if step.kind == "copy":
            shutil.copyfile(self.directory / args["source"], self.directory / args["target"])
            if args["target"] == ".env":
                self.adapt_env()
        elif step.kind == "write":
            value = PLACEHOLDERS.get(args["value"], args["value"])
            (self.directory / args["target"]).write_text(value, encoding="utf-8")
        elif step.kind == "chmod":
            (self.directory / args["target"]).chmod(int(args["mode"], 8))
        elif step.kind == "append":
            with (self.directory / args["target"]).open("a", encoding="utf-8") as file:
                file.write(args["line"] + "\n")
        elif step.kind == "up":
            self.up(step.services)
        elif step.kind in ("post", "get"):
            self.http_step(step)
        else:  # pragma: no cover - quickstart.SHAPES and this list change together
            raise AssertionError(f"no action for {step.kind}")

    def adapt_env(self) -> None:
        """What this machine needs in `.env`: a free host port and the fake OpenAI API."""
        openai = f"http://{HOST_FROM_CONTAINERS}:{self.fake.port}/openai{BASE_PATHS['openai']}"
        set_env_variable(
            self.directory / ".env", "COST_EXPORTER_PUBLISHED_PORT", str(self.host_ports[9210])
        )
        set_env_variable(self.directory / ".env", "OPENAI_BASE_URL", openai)

    def http_step(self, step: Step) -> None:
        url = self.url(step.args["url"])
        method = "POST" if step.kind == "post" else "GET"

        def call() -> httpx.Response | None:
            # Like a user right after `up -d`: the exporter may not listen yet.
            response = httpx.request(method, url, timeout=HTTP_TIMEOUT_S)
            return response if response.status_code == 200 else None

        started = self.started.get(EXPORTER)
        response = wait_until(
            call,
            f"{method} {url} answering 200",
            timeout=HTTP_TIMEOUT_S,
            diagnostics=lambda: self.diagnostics(EXPORTER),
        )
        if started is not None and "first start" not in self.figures:
            elapsed = time.monotonic() - started
            self.figures["first start"] = (
                f"{elapsed:.1f} s from `podman run` to its first answer (new volume)"
            )
        self.answers[step.command] = response
        if step.kind == "get":
            pattern = re.compile(step.args["pattern"])
            assert any(pattern.search(line) for line in response.text.splitlines()), (
                f"{step.command}: nothing matches in the answer"
            )


def set_env_variable(path: Path, name: str, value: str) -> None:
    """Set NAME=value in an env file: replace its line, or append one."""
    lines = path.read_text(encoding="utf-8").splitlines()
    replaced = [f"{name}={value}" if re.match(rf"{name}\s*=", line) else line for line in lines]
    if replaced == lines:
        replaced.append(f"{name}={value}")
    path.write_text("\n".join(replaced) + "\n", encoding="utf-8")


def copy_repository(target: Path) -> None:
    """The files a checkout has (tracked, or new and not ignored): no .venv, no .env."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if listed.returncode == 0:
        names = [n for n in listed.stdout.decode().split("\0") if n]
    else:  # not a git checkout: everything but what .gitignore keeps out
        skip = {".git", ".venv", ".env", ".state", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
        names = [
            str(p.relative_to(ROOT))
            for p in ROOT.rglob("*")
            if p.is_file()
            and not skip & set(p.relative_to(ROOT).parts)
            and "__pycache__" not in p.parts
        ]
    for name in names:
        source = ROOT / name
        if not source.is_file():
            continue  # deleted in the work tree
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)


def shorten_prometheus_intervals(directory: Path) -> None:
    """The copy's prometheus.yml scrapes and evaluates every 2 s (the shipped file: 60 s)."""
    path = directory / "prometheus" / "prometheus.yml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["global"].update(
        scrape_interval=SHORT_INTERVAL,
        scrape_timeout=SHORT_INTERVAL,
        evaluation_interval=SHORT_INTERVAL,
    )
    for job in config["scrape_configs"]:
        for key in ("scrape_interval", "scrape_timeout"):
            if key in job:
                job[key] = SHORT_INTERVAL
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    """The README's quick start, run in containers; everything is removed afterwards."""
    podman_module.require_tools()
    began = time.monotonic()
    # Short paths: conmon's attach sockets live under the run directory.
    workdir = Path(tempfile.mkdtemp(prefix="ce-", dir="/var/tmp"))
    podman = Podman(workdir / "podman")
    logs = workdir / "logs"
    directory = workdir / "project"
    logs.mkdir()
    fake = FakeProviders(bind="0.0.0.0")  # containers reach it through their gateway
    lab = None
    try:
        bases = podman_module.build_base_images(podman, logs)
        probe = podman.run(
            "run", "--rm", "--pull=never", podman_module.DEBIAN_IMAGE, "true", check=False
        )
        if probe.returncode != 0:
            podman_module.unavailable(
                f"podman cannot run a container here: {probe.stderr.strip()[-300:]}"
            )
        for name, seconds in bases.seconds.items():
            how = "from the cache" if name in bases.from_cache else "built"
            report(f"base image {name}: {how} in {seconds:.0f} s")
        copy_repository(directory)
        shorten_prometheus_intervals(directory)
        fake.start()
        lab = Lab(
            podman=podman,
            directory=directory,
            logs=logs,
            fake=fake,
            host_ports={
                port: free_port() for port in (9210, DEMO_PUBLISHED_PORT, 9090, 9093, 3000)
            },
            project_name=f"cost-exporter-{workdir.name.removeprefix('ce-').lower()}",
        )
        for step in steps():
            lab.run_step(step)
        lab.figures["base images"] = ", ".join(
            f"{n} {s:.0f} s{' (cache)' if n in bases.from_cache else ''}"
            for n, s in bases.seconds.items()
        )
        lab.figures["quick start done after"] = f"{time.monotonic() - began:.0f} s"
        yield lab
    finally:
        if lab is not None:
            lab.figures["whole container test"] = f"{time.monotonic() - began:.0f} s"
            for name, value in lab.figures.items():
                report(f"{name}: {value}")
        fake.stop()
        podman.teardown()
        shutil.rmtree(workdir, ignore_errors=True)


# --- the exporter -------------------------------------------------------------------------------


def month_to_date(text: str) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for line in text.splitlines():
        if line.startswith("cost_month_to_date{"):
            provider = re.search(r'provider="([^"]*)"', line)
            assert provider
            value = Decimal(line.rsplit(" ", 1)[1])
            totals[provider[1]] = totals.get(provider[1], Decimal(0)) + value
    return totals


def test_the_image_keeps_the_dockerfiles_healthcheck_and_user(lab: Lab) -> None:
    image = lab.project.image(EXPORTER)
    (data,) = json.loads(lab.podman.run("image", "inspect", image).stdout)
    healthcheck = data.get("Healthcheck") or data["Config"].get("Healthcheck") or {}
    assert "/healthz" in " ".join(healthcheck.get("Test") or [])
    assert data["Config"]["User"].split(":")[0] == "10001"


def test_the_image_builds_without_a_warning(lab: Lab) -> None:
    log = (lab.logs / f"build-{EXPORTER}.log").read_text(encoding="utf-8")
    warnings = [line for line in log.splitlines() if re.search(r"(?i)warn|deprecat", line)]
    assert not warnings, "\n".join(warnings)


def test_metrics_serve_the_example_bills(lab: Lab) -> None:
    response = httpx.get(lab.exporter_url("/metrics"), timeout=10)
    assert response.status_code == 200
    totals = month_to_date(response.text)
    # The container runs on the real clock (libfaketime cannot reach into it); the fake's
    # clock is that same real time, so it names the month the container bills.
    expected = expected_manual_month_to_date(lab.fake.clock().date(), providers=())
    assert expected, "exporter/config.example.yml has fixed bills"
    for provider, amount in expected.items():
        assert abs(totals.get(provider, Decimal(0)) - amount) < Decimal("0.01"), provider


def test_post_refresh_collects_as_the_readme_says(lab: Lab) -> None:
    answer = next(r for c, r in lab.answers.items() if c.startswith("curl -X POST"))
    assert answer.status_code == 200
    assert answer.json()["status"] == "done"


def test_a_key_file_authenticates_and_never_reaches_the_logs(lab: Lab) -> None:
    env = lab.project.environment(EXPORTER)
    assert env.get("OPENAI_ADMIN_KEY_FILE") == "/run/secrets/openai_admin_key"
    assert not env.get("OPENAI_ADMIN_KEY")

    def openai_collected() -> str | None:
        text = httpx.get(lab.exporter_url("/metrics"), timeout=10).text
        up = sample_value(text, "cost_collector_up", provider="openai")
        return text if up == 1 else None

    text = wait_until(openai_collected, "the openai collector up with the key from the file", 30)
    assert month_to_date(text)["openai"] == FIXED_MONTH_TO_DATE["openai"]
    assert lab.fake.requests_for("openai") > 0
    logs = lab.container_logs(EXPORTER)
    assert "openai" in logs  # the collection is logged ...
    assert OPENAI_ADMIN_KEY not in logs  # ... the key never
    container_env = lab.inspect(lab.container(EXPORTER), "{{json .Config.Env}}")
    assert OPENAI_ADMIN_KEY not in container_env


def test_the_healthcheck_turns_healthy(lab: Lab) -> None:
    lab.wait_healthy(EXPORTER)


def test_it_runs_as_the_compose_user_on_a_read_only_root(lab: Lab) -> None:
    spec = lab.project.service(EXPORTER)
    uid = lab.exec(EXPORTER, "id", "-u").stdout.strip()
    assert uid == str(spec["user"]).split(":")[0]
    assert uid != "0"
    assert spec["read_only"] is True
    name = lab.container(EXPORTER)
    assert lab.inspect(name, "{{.HostConfig.ReadonlyRootfs}}") == "true"
    refused = lab.exec(EXPORTER, "touch", "/etc/cost-exporter/probe", check=False)
    assert refused.returncode != 0 and "Read-only file system" in refused.stderr
    assert lab.exec(EXPORTER, "touch", "/tmp/probe", check=False).returncode == 0  # tmpfs
    state = lab.exec(EXPORTER, "stat", "-c", "%u %n", "/var/lib/cost-exporter/snapshot.json")
    assert state.stdout.split()[0] == uid


def test_a_restart_serves_the_snapshot_from_the_volume(lab: Lab) -> None:
    name = lab.container(EXPORTER)
    before = dict(month_to_date(httpx.get(lab.exporter_url("/metrics"), timeout=10).text))
    requests_before = lab.fake.requests_for("openai")
    lab.podman.run("stop", "--time", "10", name)
    started = time.monotonic()
    lab.podman.run("start", name)

    def metrics() -> httpx.Response | None:
        response = httpx.get(lab.exporter_url("/metrics"), timeout=5)
        return response if response.status_code == 200 else None

    response = wait_until(metrics, "/metrics after podman start", 30, interval=0.05)
    elapsed = time.monotonic() - started
    lab.figures["start-up"] = (
        f"{elapsed:.2f} s from `podman start` to /metrics 200, snapshot restored "
        f"(target < {START_TARGET_S:.0f} s)"
    )
    report(f"podman start -> /metrics 200: {elapsed:.2f} s")
    assert month_to_date(response.text) == before
    assert lab.fake.requests_for("openai") == requests_before  # no API call: the snapshot
    restored = [
        json.loads(line)
        for line in lab.container_logs(EXPORTER).splitlines()
        if '"snapshot_restored"' in line
    ]
    assert restored[-1]["accounts"] == 2  # manual/default and openai/default
    lab.wait_healthy(EXPORTER)


# --- Prometheus and Alertmanager --------------------------------------------------------------


def prometheus(lab: Lab, path: str) -> Any:
    response = httpx.get(lab.url(f"http://localhost:9090{path}"), timeout=10)
    response.raise_for_status()
    return response.json()["data"]


def test_prometheus_scrapes_the_exporter_by_its_service_name(lab: Lab) -> None:
    def scraped() -> dict[str, Any] | None:
        for target in prometheus(lab, "/api/v1/targets")["activeTargets"]:
            if (
                target["scrapeUrl"] == f"http://{EXPORTER}:9210/metrics"
                and target["health"] == "up"
            ):
                return target
        return None

    wait_until(scraped, "Prometheus scraping cost-exporter:9210", 60, interval=1.0)
    series = prometheus(lab, "/api/v1/query?query=sum+by+(provider)+(cost_month_to_date)")
    assert {s["metric"]["provider"] for s in series["result"]} >= {"ovh", "openai"}


def test_prometheus_loads_every_shipped_rule(lab: Lab) -> None:
    shipped = sum(
        len(group["rules"])
        for path in sorted((lab.directory / "prometheus" / "rules").glob("*.yml"))
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
    )
    groups = prometheus(lab, "/api/v1/rules")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) == shipped
    assert {rule["health"] for rule in rules} <= {"ok", "unknown"}
    managers = prometheus(lab, "/api/v1/alertmanagers")["activeAlertmanagers"]
    assert [m["url"] for m in managers] == ["http://alertmanager:9093/api/v2/alerts"]


def test_the_demo_profile_is_found_by_prometheus_and_says_it_is_a_demo(lab: Lab) -> None:
    """`docker compose --profile demo up -d`: the demo starts beside the real exporter, and
    Prometheus finds it through the network's DNS (job cost-exporter-demo), which no test
    outside containers can show."""
    lab.up([], profiles=frozenset({"demo"}))
    lab.wait_healthy(DEMO)

    def scraped() -> dict[str, Any] | None:
        for target in prometheus(lab, "/api/v1/targets")["activeTargets"]:
            if target["labels"]["job"] == DEMO and target["health"] == "up":
                return target
        return None

    target = wait_until(scraped, "Prometheus scraping the demo found by DNS", 90, interval=1.0)
    assert target["scrapeUrl"].endswith(":9210/metrics")
    info = prometheus(lab, "/api/v1/query?query=cost_exporter_build_info")["result"]
    assert {(s["metric"]["job"], s["metric"]["demo"]) for s in info} == {
        (EXPORTER, "false"),
        (DEMO, "true"),
    }
    page = httpx.get(lab.url(f"http://localhost:{DEMO_PUBLISHED_PORT}/"), timeout=10)
    assert "Demo data: every figure on this page comes from built-in fake providers" in page.text


def test_alertmanager_accepts_its_config(lab: Lab) -> None:
    response = httpx.get(lab.url("http://localhost:9093/api/v2/status"), timeout=10)
    assert response.status_code == 200
    assert "receivers" in response.json()["config"]["original"]


@pytest.mark.parametrize("service", ["prometheus", "alertmanager"])
def test_the_healthchecks_of_prometheus_and_alertmanager_pass(lab: Lab, service: str) -> None:
    lab.wait_healthy(service)


def test_grafana(lab: Lab) -> None:
    if "grafana" in lab.skipped:
        pytest.skip(lab.skipped["grafana"])
    lab.wait_healthy("grafana")
