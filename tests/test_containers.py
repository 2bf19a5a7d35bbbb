"""The Dockerfile and compose file, checked without a Docker engine."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.e2e import quickstart
from tests.e2e.compose import Project, interpolate, parse_env_file

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert found, f"{name} is a dev dependency: make test installs it"
    return found


def test_dockerfile_lints_clean_with_hadolint() -> None:
    result = subprocess.run(
        [tool("hadolint"), "Dockerfile"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_matches_the_compose_spec_schema() -> None:
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", "docker-compose.yml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_image_is_pinned_and_every_service_has_a_healthcheck() -> None:
    services = compose()["services"]
    assert set(services) >= {"cost-exporter", "prometheus", "alertmanager", "grafana"}
    for name, service in services.items():
        assert "healthcheck" in service, name
        one_shot = "backfill" in service.get("profiles", [])
        assert service.get("restart") == ("no" if one_shot else "unless-stopped"), name
        image = service.get("image", "")
        if not service.get("build"):
            tag = image.rsplit(":", 1)[-1]
            assert ":" in image and tag not in ("latest", ""), f"{name} image not pinned"


def test_the_exporter_service_stands_alone() -> None:
    exporter = compose()["services"]["cost-exporter"]
    assert exporter["build"] == "."
    assert "depends_on" not in exporter
    assert exporter["read_only"] is True
    assert exporter["user"] != "0"
    assert any("/var/lib/cost-exporter" in v for v in exporter["volumes"])


def test_prometheus_keeps_a_year_of_history_and_can_reload() -> None:
    command = compose()["services"]["prometheus"]["command"]
    assert "--storage.tsdb.retention.time=400d" in command
    assert "--web.enable-lifecycle" in command


def test_no_secret_value_is_baked_into_image_or_compose() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert "USER 10001" in dockerfile
    for text in (dockerfile, (ROOT / "docker-compose.yml").read_text()):
        for word in ("API_KEY=", "ADMIN_KEY=", "TOKEN=", "PASSWORD="):
            assert word not in text


def test_env_example_comments_every_variable() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    for index, line in enumerate(lines):
        if line and not line.startswith("#") and "=" in line:
            assert lines[index - 1].startswith("#"), f"{line} has no comment above it"


# --- what the container test (make containers) relies on, checked without podman -------------


def project_with_example_env(tmp_path: Path) -> Project:
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    return Project.load(tmp_path)


def test_the_readme_quick_start_is_made_of_steps_the_container_test_runs() -> None:
    commands = [step.command for step in quickstart.steps()]
    assert commands[0] == "cp .env.example .env"
    assert "docker compose up -d cost-exporter" in commands
    assert "curl -X POST http://localhost:9210/refresh" in commands
    assert commands.index("docker compose up -d cost-exporter") < commands.index(
        "curl -X POST http://localhost:9210/refresh"
    )
    assert any(c.startswith("echo 'OPENAI_ADMIN_KEY_FILE=/run/secrets/") for c in commands)
    assert commands[-1] == "docker compose up -d"


def test_a_readme_command_the_container_test_cannot_run_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot run"):
        quickstart.parse("docker compose up --build cost-exporter")


def test_every_service_translates_to_podman_arguments(tmp_path: Path) -> None:
    project = project_with_example_env(tmp_path)
    for service in project.services(frozenset({"backfill"})):
        args = project.run_args(service, env_file=tmp_path / f"{service}.env")
        assert project.image(service) in args


def test_the_exporter_listens_on_9210_inside_whatever_port_it_is_published_on(
    tmp_path: Path,
) -> None:
    (tmp_path / "docker-compose.yml").write_text((ROOT / "docker-compose.yml").read_text())
    env = (ROOT / ".env.example").read_text()
    assert "\nCOST_EXPORTER_PUBLISHED_PORT=" in env
    assert "\nCOST_EXPORTER_PORT=" not in env  # the env file must not move the listen port
    (tmp_path / ".env").write_text(env + "COST_EXPORTER_PUBLISHED_PORT=19999\n")
    project = Project.load(tmp_path)
    (port,) = project.ports("cost-exporter")
    assert (port.host_port, port.container_port) == (19999, 9210)
    assert project.environment("cost-exporter")["COST_EXPORTER_PORT"] == "9210"
    assert "127.0.0.1:9210/healthz" in (project.healthcheck("cost-exporter").shell_command or "")
    prometheus = yaml.safe_load((ROOT / "prometheus" / "prometheus.yml").read_text())
    exporter_job = next(j for j in prometheus["scrape_configs"] if j["job_name"] == "cost-exporter")
    assert exporter_job["static_configs"][0]["targets"] == ["cost-exporter:9210"]


def test_each_service_sees_only_its_own_secret_files(tmp_path: Path) -> None:
    project = project_with_example_env(tmp_path)
    secrets = (tmp_path / "secrets").resolve()
    seen: dict[str, set[str]] = {}
    for service in project.services(frozenset({"backfill"})):
        for mount in project.mounts(service):
            source = Path(mount.split(":")[0])
            assert source != secrets, f"{service} mounts every secret"
            if source.is_relative_to(secrets):
                seen.setdefault(str(source.relative_to(secrets)), set()).add(service)
    assert seen == {
        "cost-exporter": {"cost-exporter", "backfill"},
        "alertmanager": {"alertmanager"},
        "grafana_admin_password": {"grafana"},
    }
    for folder in ("cost-exporter", "alertmanager"):
        assert (ROOT / "secrets" / folder / ".gitkeep").exists()


def test_the_build_context_holds_only_what_the_dockerfile_copies() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*"  # everything out, then the exceptions
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    copied = set()
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            copied |= {part.split("/")[0] for part in line.split()[1:-1]}
    assert copied <= allowed, copied - allowed
    assert not {".env", "secrets", ".venv"} & allowed


def test_nothing_the_test_machine_needs_is_in_the_compose_file_or_dockerfile() -> None:
    for name in ("docker-compose.yml", "Dockerfile"):
        text = (ROOT / name).read_text().lower()
        for word in ("podman", "runc", "ulimit", "/etc/ssl/certs", "host.containers.internal"):
            assert word not in text, f"{name} mentions {word}: that belongs in the test harness"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${PORT:-9210}:9210", "9210:9210"),
        ("${EMPTY:-x}", "x"),
        ("${EMPTY-x}", ""),
        ("${UNSET-x}", "x"),
        ("$$HOME ${SET} $SET", "$HOME a a"),
    ],
)
def test_compose_interpolation(text: str, expected: str) -> None:
    assert interpolate(text, {"SET": "a", "EMPTY": ""}) == expected


def test_env_files_read_as_compose_reads_them() -> None:
    text = "# c\n\nA=1\nB='x # y'\nexport C=2 # note\nD=\n"
    assert parse_env_file(text) == {"A": "1", "B": "x # y", "C": "2", "D": ""}
