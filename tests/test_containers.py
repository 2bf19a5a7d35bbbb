"""The Dockerfile and compose file, checked without a Docker engine."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

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
