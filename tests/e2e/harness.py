"""The alerting pipeline on loopback: real exporter -> Prometheus -> Alertmanager -> webhook.

`Stack.start()` runs, each on a free 127.0.0.1 port and with its state in a
temporary directory:

* the exporter as a subprocess (`python -m cost_exporter`) with a config file
  written from a dict and a clean environment (only PATH, LANG and what the
  test passes, e.g. `VERCEL_BASE_URL` of a fake provider server, so a
  developer's own API keys never leak in);
* `prometheus` with a copy of the shipped prometheus/prometheus.yml and
  prometheus/rules/*.yml in which only addresses, the scrape/evaluation
  intervals and the `for:` durations are changed (`prometheus_config_copy`,
  `rules_copy`);
* `prometheus-alertmanager` with a copy of the shipped alertmanager.yml in
  which only addresses (every webhook and the Slack URL -> the local
  `WebhookSink`, SMTP -> a closed local port, secret files -> temporary
  files) and the group timings are changed (`alertmanager_config_copy`).

Every wait polls with a deadline (`wait_until`) and reports the processes'
log tails on timeout. `Stack.stop()` ends every process it started, by pid,
and is safe to call twice; the conftest fixture calls it even when a test fails.

    def test_x(start_stack):
        with FakeHttpServer({("GET", "/v1/usage"): {"usage": 3}}) as api:   # optional
            stack = start_stack(config, env={"VERCEL_BASE_URL": api.url})
            stack.sink.wait_for("BudgetWarning", provider="vercel")
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "prometheus"

# Test timings. The shipped files keep production values (60s scrape, 15m-90m `for:`).
INTERVAL = "1s"
FOR = "2s"
GROUP_WAIT = "1s"
GROUP_INTERVAL = "1s"
START_TIMEOUT_S = 30.0
ALERT_TIMEOUT_S = 30.0

T = TypeVar("T")


# --- small utilities ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    check: Callable[[], T | None],
    what: str,
    timeout: float = ALERT_TIMEOUT_S,
    diagnostics: Callable[[], str] | None = None,
    interval: float = 0.1,
) -> T:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = check()
        except (OSError, httpx.HTTPError, ValueError, KeyError) as exc:
            result, last_error = None, exc
        if result:
            return result
        if time.monotonic() >= deadline:
            detail = f"\nlast error: {last_error!r}" if last_error else ""
            extra = f"\n{diagnostics()}" if diagnostics else ""
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {what}{detail}{extra}"
            )
        time.sleep(interval)


def sample_value(text: str, name: str, **labels: str) -> float | None:
    """The value of the series `name` whose labels include `labels`, in exposition text."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        label_text, _, value = line[len(name) + 1 :].rpartition("} ")
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', label_text))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    return None


def write_yaml(path: Path, data: Any) -> Path:
    """Write atomically, so a process reloading the file never reads half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    tmp.replace(path)
    return path


# --- local HTTP servers ---------------------------------------------------------------


@dataclass(frozen=True)
class FakeRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass(frozen=True)
class FakeResponse:
    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


Route = Callable[[FakeRequest], FakeResponse | Any] | Any


class FakeHttpServer:
    """A JSON HTTP server on 127.0.0.1 in a daemon thread, e.g. a fake provider API.

    `routes` maps (METHOD, path) to a body (answered with 200) or to a function
    of the `FakeRequest` returning a body or a `FakeResponse`. A body is sent as
    JSON, or as text/plain when it is bytes. Other requests get 404. Every
    request is kept in `requests`.
    """

    def __init__(self, routes: Mapping[tuple[str, str], Route] | None = None) -> None:
        self.routes: dict[tuple[str, str], Route] = dict(routes or {})
        self.requests: list[FakeRequest] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                request = FakeRequest(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers=dict(self.headers.items()),
                    body=self.rfile.read(length) if length else b"",
                )
                response = server.answer(request)
                if isinstance(response.body, bytes):
                    payload, content_type = response.body, "text/plain; charset=utf-8"
                else:
                    payload, content_type = json.dumps(response.body).encode(), "application/json"
                self.send_response(response.status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, request: FakeRequest) -> FakeResponse:
        with self._lock:
            self.requests.append(request)
        route = self.routes.get((request.method, request.path))
        if route is None:
            return FakeResponse(404, {"error": f"no route for {request.method} {request.path}"})
        result = route(request) if callable(route) else route
        return result if isinstance(result, FakeResponse) else FakeResponse(200, result)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeHttpServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WebhookSink(FakeHttpServer):
    """Receives Alertmanager notifications and keeps their payloads.

    POST /alerts: webhook payloads (`payloads`); POST /slack: Slack messages
    (`slack_messages`), answered 200 like Slack does.
    """

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.slack_messages: list[dict[str, Any]] = []
        super().__init__(
            {
                ("POST", "/alerts"): lambda r: self._keep(self.payloads, r),
                ("POST", "/slack"): lambda r: self._keep(self.slack_messages, r),
            }
        )

    @property
    def alerts_url(self) -> str:
        return f"{self.url}/alerts"

    @property
    def slack_url(self) -> str:
        return f"{self.url}/slack"

    def _keep(self, into: list[dict[str, Any]], request: FakeRequest) -> bytes:
        payload = request.json()
        with self._lock:
            into.append(payload)
        return b"ok"

    def find(
        self, alertname: str, status: str | None = None, **labels: str
    ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(payload, alert) pairs of `alertname` with this alert status and these labels."""
        with self._lock:
            payloads = list(self.payloads)
        return [
            (payload, alert)
            for payload in payloads
            for alert in payload.get("alerts", ())
            if alert["labels"].get("alertname") == alertname
            and (status is None or alert["status"] == status)
            and all(alert["labels"].get(k) == v for k, v in labels.items())
        ]

    def summary(self) -> str:
        with self._lock:
            payloads = list(self.payloads)
        lines = [
            f"  {p.get('receiver')} {p.get('status')}: "
            + ", ".join(
                f"{a['labels'].get('alertname')}{{provider={a['labels'].get('provider')}}}"
                f" {a['status']}"
                for a in p.get("alerts", ())
            )
            for p in payloads
        ]
        return "webhook payloads received:\n" + ("\n".join(lines) or "  (none)")


# --- temporary copies of the shipped configuration --------------------------------------


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def prometheus_config_copy(
    shipped: Mapping[str, Any],
    *,
    exporter: str,
    alertmanager: str,
    rule_files: list[str],
    unused: str,
    interval: str = INTERVAL,
) -> dict[str, Any]:
    """The shipped prometheus.yml with test addresses and intervals, nothing else.

    The cost-exporter job scrapes `exporter`; any other job's static targets
    point at the closed local address `unused`, so a test never scrapes the
    internet.
    """
    config = copy.deepcopy(dict(shipped))
    settings = config.setdefault("global", {})
    settings.update(scrape_interval=interval, evaluation_interval=interval, scrape_timeout=interval)
    config["rule_files"] = rule_files
    for manager in config["alerting"]["alertmanagers"]:
        for static in manager["static_configs"]:
            static["targets"] = [alertmanager]
    for job in config["scrape_configs"]:
        for key in ("scrape_interval", "scrape_timeout"):
            if key in job:
                job[key] = interval
        target = exporter if job["job_name"] == "cost-exporter" else unused
        for static in job.get("static_configs", ()):
            static["targets"] = [target for _ in static["targets"]]
    return config


def rules_copy(
    shipped: Mapping[str, Any], *, for_: str = FOR, interval: str = INTERVAL
) -> dict[str, Any]:
    """A shipped rule file with every `for:` (and any group interval) shortened."""
    rules = copy.deepcopy(dict(shipped))
    for group in rules["groups"]:
        if "interval" in group:
            group["interval"] = interval
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = for_
    return rules


def alertmanager_config_copy(
    shipped: Mapping[str, Any],
    *,
    webhook_url: str,
    slack_url: str,
    unused: str,
    secrets_dir: Path,
    group_wait: str = GROUP_WAIT,
    group_interval: str = GROUP_INTERVAL,
) -> dict[str, Any]:
    """The shipped alertmanager.yml with local addresses and short group timings.

    Every webhook posts to `webhook_url`, Slack to `slack_url` (through the
    secret file, as shipped). SMTP goes to the closed local address `unused`:
    its sends fail with "connection refused" and Alertmanager retries them
    until the notification times out (10s at least). The integrations of one
    receiver run in parallel, so the webhook's first notification of a group is
    not delayed, but the group's next one (e.g. "resolved") waits for that
    timeout: tests wait only for the first notification of a critical group.
    """
    config = copy.deepcopy(dict(shipped))
    secrets_dir.mkdir(parents=True, exist_ok=True)
    password = secrets_dir / "smtp_password"
    password.write_text("unused\n", encoding="utf-8")
    slack_file = secrets_dir / "slack_webhook_url"
    slack_file.write_text(f"{slack_url}\n", encoding="utf-8")

    settings = config.get("global") or {}
    if "smtp_smarthost" in settings:
        settings["smtp_smarthost"] = unused
    if "smtp_auth_password_file" in settings:
        settings["smtp_auth_password_file"] = str(password)
    if "slack_api_url_file" in settings:
        settings["slack_api_url_file"] = str(slack_file)

    def shorten(route: dict[str, Any], root: bool) -> None:
        if root or "group_wait" in route:
            route["group_wait"] = group_wait
        if root or "group_interval" in route:
            route["group_interval"] = group_interval
        for child in route.get("routes", ()):
            shorten(child, root=False)

    shorten(config["route"], root=True)
    for receiver in config.get("receivers", ()):
        for webhook in receiver.get("webhook_configs", ()):
            webhook["url"] = webhook_url
        for email in receiver.get("email_configs", ()):
            if "smarthost" in email:
                email["smarthost"] = unused
            if "auth_password_file" in email:
                email["auth_password_file"] = str(password)
        for slack in receiver.get("slack_configs", ()):
            if "api_url_file" in slack:
                slack["api_url_file"] = str(slack_file)
            if "api_url" in slack:
                slack["api_url"] = slack_url
    return config


# --- processes -----------------------------------------------------------------------


class Process:
    """A subprocess with its output in a log file, in a process group of its own: `stop()`
    and `signal()` reach every process of the group, so a wrapper such as `faketime` (which
    forks the real program) never leaves that program running after the test."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self._log_file = log.open("wb")
        self.popen = subprocess.Popen(
            argv,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=log.parent,
            start_new_session=True,
        )

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def signal(self, signum: int) -> None:
        self._signal_group(signum)

    def stop(self, timeout: float = 5.0) -> None:
        self._signal_group(signal.SIGTERM)
        if not self._group_gone_within(timeout):
            self._signal_group(signal.SIGKILL)
            self._group_gone_within(timeout)
        self._log_file.close()

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # every process of it has exited
            os.killpg(self.popen.pid, signum)

    def _group_gone_within(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.popen.poll()  # reap the leader, or the group never looks empty
            try:
                os.killpg(self.popen.pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.05)
        return False

    def tail(self, lines: int = 25) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        state = "running" if self.running else f"exited with {self.popen.returncode}"
        body = "\n".join("    " + line for line in text.splitlines()[-lines:])
        return f"--- {self.name} ({state}), last lines of {self.log}:\n{body}"


@dataclass
class Binaries:
    prometheus: str
    alertmanager: str


@dataclass
class Stack:
    """The running pipeline of one test. Build it with `Stack.start`."""

    root: Path
    binaries: Binaries
    sink: WebhookSink
    exporter_port: int = field(default_factory=free_port)
    prometheus_port: int = field(default_factory=free_port)
    alertmanager_port: int = field(default_factory=free_port)
    unused_port: int = field(default_factory=free_port)
    processes: dict[str, Process] = field(default_factory=dict)
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=5))
    remote_write: list[dict[str, Any]] | None = None

    @classmethod
    def start(
        cls,
        root: Path,
        binaries: Binaries,
        config: Mapping[str, Any],
        env: Mapping[str, str] | None = None,
        remote_write: list[dict[str, Any]] | None = None,
        exporter_argv: Sequence[str] | None = None,
    ) -> Stack:
        """Start everything and wait until Prometheus scrapes the exporter successfully.

        `remote_write` is added to Prometheus' config as is (test addresses already in it).
        `exporter_argv` replaces `python -m cost_exporter` (e.g. the demo under libfaketime).
        On failure everything already started is stopped before the error propagates.
        """
        stack = cls(root=root, binaries=binaries, sink=WebhookSink(), remote_write=remote_write)
        try:
            stack.write_exporter_config(config)
            stack._start_exporter(env or {}, exporter_argv)
            stack._start_alertmanager()
            stack.wait_exporter_ready()
            wait_until(
                lambda: stack.http.get(f"{stack.alertmanager_url}/-/ready").status_code == 200,
                "Alertmanager to be ready",
                START_TIMEOUT_S,
                stack.diagnostics,
            )
            # Prometheus last, so its first scrape finds the exporter up.
            stack._start_prometheus()
            wait_until(
                lambda: stack.query('up{job="cost-exporter"} == 1'),
                "Prometheus to scrape the exporter successfully",
                START_TIMEOUT_S,
                stack.diagnostics,
            )
        except BaseException:
            stack.stop()
            raise
        return stack

    # addresses and files

    @property
    def exporter_url(self) -> str:
        return f"http://127.0.0.1:{self.exporter_port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://127.0.0.1:{self.alertmanager_port}"

    @property
    def unused_address(self) -> str:
        return f"127.0.0.1:{self.unused_port}"

    @property
    def exporter_config(self) -> Path:
        return self.root / "exporter" / "config.yml"

    def write_exporter_config(self, config: Mapping[str, Any]) -> None:
        write_yaml(self.exporter_config, dict(config))

    # starting

    def _start_exporter(
        self, extra_env: Mapping[str, str], argv: Sequence[str] | None = None
    ) -> None:
        directory = self.root / "exporter"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(directory),
            "COST_CONFIG_FILE": str(self.exporter_config),
            "COST_STATE_DIR": str(directory / "state"),
            "COST_EXPORTER_HOST": "127.0.0.1",
            "COST_EXPORTER_PORT": str(self.exporter_port),
            "COST_REFRESH_MIN_INTERVAL_S": "0",
            **extra_env,
        }
        command = list(argv or [sys.executable, "-m", "cost_exporter"])
        self.processes["exporter"] = Process("exporter", command, env, directory / "exporter.log")

    def _start_alertmanager(self) -> None:
        directory = self.root / "alertmanager"
        directory.mkdir(parents=True, exist_ok=True)
        config = alertmanager_config_copy(
            load_yaml(PROMETHEUS_DIR / "alertmanager.yml"),
            webhook_url=self.sink.alerts_url,
            slack_url=self.sink.slack_url,
            unused=self.unused_address,
            secrets_dir=directory / "secrets",
        )
        config_file = write_yaml(directory / "alertmanager.yml", config)
        argv = [
            self.binaries.alertmanager,
            f"--config.file={config_file}",
            f"--storage.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.alertmanager_port}",
            "--cluster.listen-address=",  # no gossip: a single local instance
        ]
        self.processes["alertmanager"] = Process(
            "alertmanager", argv, {"PATH": os.environ.get("PATH", "")}, directory / "am.log"
        )

    def _start_prometheus(self) -> None:
        directory = self.root / "prometheus"
        rule_files = []
        for path in sorted((PROMETHEUS_DIR / "rules").glob("*.yml")):
            copy_path = write_yaml(directory / "rules" / path.name, rules_copy(load_yaml(path)))
            rule_files.append(str(copy_path))
        config = prometheus_config_copy(
            load_yaml(PROMETHEUS_DIR / "prometheus.yml"),
            exporter=f"127.0.0.1:{self.exporter_port}",
            alertmanager=f"127.0.0.1:{self.alertmanager_port}",
            rule_files=rule_files,
            unused=self.unused_address,
        )
        if self.remote_write:
            config["remote_write"] = self.remote_write
        config_file = write_yaml(directory / "prometheus.yml", config)
        argv = [
            self.binaries.prometheus,
            f"--config.file={config_file}",
            f"--storage.tsdb.path={directory / 'data'}",
            "--storage.tsdb.retention.time=400d",
            f"--web.listen-address=127.0.0.1:{self.prometheus_port}",
        ]
        self.processes["prometheus"] = Process(
            "prometheus", argv, {"PATH": os.environ.get("PATH", "")}, directory / "prom.log"
        )

    # the exporter

    @property
    def exporter(self) -> Process:
        return self.processes["exporter"]

    def exporter_metrics(self) -> str:
        return self.http.get(f"{self.exporter_url}/metrics").text

    def wait_exporter_ready(self) -> None:
        """Wait until the first collection has run (/healthz no longer says "starting")."""

        def collected() -> bool:
            if not self.exporter.running:
                raise AssertionError(f"the exporter exited\n{self.diagnostics()}")
            response = self.http.get(f"{self.exporter_url}/healthz")
            return response.json().get("status") not in (None, "starting")

        wait_until(collected, "the exporter's first collection", START_TIMEOUT_S, self.diagnostics)

    def exporter_value(self, name: str, **labels: str) -> float | None:
        """The value of the one series of `name` on /metrics with these labels, or None."""
        return sample_value(self.exporter_metrics(), name, **labels)

    def reload_exporter(
        self, config: Mapping[str, Any], name: str, value: float, **labels: str
    ) -> None:
        """Rewrite the exporter's config, SIGHUP it, wait until /metrics shows `value`."""
        self.write_exporter_config(config)
        self.exporter.signal(signal.SIGHUP)
        wait_until(
            lambda: self.exporter_value(name, **labels) == value,
            f"{name}{labels} == {value} on /metrics after SIGHUP",
            START_TIMEOUT_S,
            self.diagnostics,
        )

    # Prometheus and Alertmanager

    def query(self, promql: str) -> list[dict[str, Any]]:
        response = self.http.get(f"{self.prometheus_url}/api/v1/query", params={"query": promql})
        response.raise_for_status()
        return list(response.json()["data"]["result"])

    def alertmanager_alerts(self, alertname: str) -> list[dict[str, Any]]:
        response = self.http.get(
            f"{self.alertmanager_url}/api/v2/alerts",
            params={"filter": f'alertname="{alertname}"'},
        )
        response.raise_for_status()
        return list(response.json())

    def wait_for_notification(
        self, alertname: str, status: str = "firing", **labels: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The first webhook (payload, alert) of `alertname` with this status and labels."""
        wanted = ", ".join([f"status={status}", *(f"{k}={v}" for k, v in labels.items())])
        found = wait_until(
            lambda: self.sink.find(alertname, status, **labels),
            f"a webhook notification of {alertname} ({wanted})",
            ALERT_TIMEOUT_S,
            self.diagnostics,
        )
        return found[0]

    # teardown and diagnostics

    def diagnostics(self) -> str:
        parts = [self.sink.summary()]
        parts += [process.tail() for process in self.processes.values()]
        return "\n".join(parts)

    def stop(self) -> None:
        for name in ("prometheus", "alertmanager", "exporter"):
            process = self.processes.get(name)
            if process is not None:
                process.stop()
        self.sink.close()
        self.http.close()
