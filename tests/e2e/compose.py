"""docker-compose.yml read the way `docker compose` reads it, as `podman run` arguments.

The container test starts the services exactly as the compose file defines them, so
nothing here holds a port, a path or a user of its own: `Project.load` reads the compose
file and the project's `.env` (for `${VAR:-default}` interpolation, as compose does), and
`Project.run_args` turns one service into the arguments of `podman run`. What the test
machine needs on top (runtime, network, storage) is added by the caller (`podman.py`).

Only what this repository's compose file uses is translated. A service key the
translator does not know fails the test (`UnknownKey`) rather than being dropped, so the
compose file cannot grow a setting the container test silently ignores.

Two translations are not literal, each for a reason of podman 4.3 (Debian bookworm):

* `read_only: true` becomes `--read-only --read-only-tmpfs=false`: podman otherwise adds
  writable tmpfs mounts on /run, /tmp and /var/tmp that Docker does not, and a write the
  compose file does not allow would pass here and fail for Docker users.
* a `["CMD", ...]` healthcheck runs through `/bin/sh -c` with its arguments quoted:
  podman 4.3 splits the arguments of an exec-form `--health-cmd` on whitespace, which
  breaks `python -c "import a; b"`. The command that runs is the same.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

COMPOSE_FILE = "docker-compose.yml"
ENV_FILE = ".env"

# Service keys and what the translator does with them. Anything else is an UnknownKey.
TRANSLATED = frozenset(
    {
        "image",
        "env_file",
        "environment",
        "volumes",
        "ports",
        "user",
        "read_only",
        "tmpfs",
        "healthcheck",
        "restart",
        "secrets",
        "command",
        "entrypoint",
    }
)
# Read by the caller rather than turned into arguments.
ORCHESTRATION = frozenset({"build", "depends_on", "profiles"})


class UnknownKey(ValueError):
    """The compose file uses something the container test does not translate (yet)."""


# --- .env and ${VAR} interpolation -----------------------------------------------------------


def parse_env_file(text: str) -> dict[str, str]:
    """`KEY=value` lines as compose reads an env file: comments, blank lines, quotes.

    An unquoted value ends at ` #` (an inline comment); a quoted one keeps everything
    between its quotes.
    """
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", key):
            raise ValueError(f"line {number}: not KEY=value: {raw!r}")
        value = value.strip()
        if value[:1] in ("'", '"') and value.endswith(value[0]) and len(value) >= 2:
            value = value[1:-1]
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0].rstrip()
        values[key] = value
    return values


_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """`$$`, `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}` and `${VAR:?error}`."""

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        value = variables.get(name)
        op, arg = match["op"], match["arg"] or ""
        missing = not value if op in (":-", ":?") else value is None
        if op and op.endswith("?") and missing:
            raise ValueError(f"{name}: {arg or 'required'}")
        if op and op.endswith("-") and missing:
            return arg
        return value or ""

    return _VARIABLE.sub(substitute, text)


def interpolate_all(data: Any, variables: Mapping[str, str]) -> Any:
    if isinstance(data, str):
        return interpolate(data, variables)
    if isinstance(data, list):
        return [interpolate_all(item, variables) for item in data]
    if isinstance(data, dict):
        return {key: interpolate_all(value, variables) for key, value in data.items()}
    return data


# --- the project -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Port:
    host_ip: str
    host_port: int
    container_port: int


@dataclass(frozen=True)
class Healthcheck:
    argv: list[str]  # podman arguments
    shell_command: str | None  # what runs, for messages; None when disabled


@dataclass
class Project:
    """A compose project: the file, its directory and the variables of its `.env`."""

    directory: Path
    data: dict[str, Any]
    variables: dict[str, str] = field(default_factory=dict)
    project_name: str | None = None  # `docker compose -p NAME`

    @classmethod
    def load(cls, directory: Path, project_name: str | None = None) -> Project:
        env_path = directory / ENV_FILE
        variables = (
            parse_env_file(env_path.read_text(encoding="utf-8")) if env_path.exists() else {}
        )
        raw = yaml.safe_load((directory / COMPOSE_FILE).read_text(encoding="utf-8"))
        return cls(directory, interpolate_all(raw, variables), variables, project_name)

    @property
    def name(self) -> str:
        """`-p NAME`, else the file's `name:`, else the directory's name (as compose does)."""
        return str(self.project_name or self.data.get("name") or self.directory.name)

    @property
    def network(self) -> str:
        """The project's default network, as compose names it."""
        return f"{self.name}_default"

    def service(self, name: str) -> dict[str, Any]:
        service: dict[str, Any] = self.data["services"][name]
        unknown = set(service) - TRANSLATED - ORCHESTRATION
        if unknown:
            raise UnknownKey(
                f"{COMPOSE_FILE}: services.{name}: {', '.join(sorted(unknown))}: the container "
                "test does not translate this key (teach tests/e2e/compose.py)"
            )
        return service

    def services(self, profiles: frozenset[str] = frozenset()) -> list[str]:
        """Service names in start order (dependencies first), without inactive profiles."""
        active = {
            name
            for name, service in self.data["services"].items()
            if not service.get("profiles") or profiles & set(service["profiles"])
        }
        ordered: list[str] = []

        def visit(name: str, path: tuple[str, ...]) -> None:
            if name in ordered:
                return
            if name in path:
                raise ValueError(f"dependency cycle: {' -> '.join((*path, name))}")
            for dependency in self.depends_on(name):
                visit(dependency, (*path, name))
            ordered.append(name)

        for name in sorted(active):
            visit(name, ())
        return ordered

    def depends_on(self, name: str) -> dict[str, str]:
        """Dependency -> condition (`service_started`, `service_healthy`, ...)."""
        raw = self.data["services"][name].get("depends_on") or {}
        if isinstance(raw, list):
            return dict.fromkeys(raw, "service_started")
        return {dep: (spec or {}).get("condition", "service_started") for dep, spec in raw.items()}

    def container_name(self, service: str) -> str:
        return f"{self.name}-{service}-1"

    def volume_name(self, volume: str) -> str:
        return f"{self.name}_{volume}"

    def image(self, service: str) -> str:
        image = self.service(service).get("image")
        if not image:
            return f"{self.name}-{service}"  # compose's name for a built image without one
        return str(image)

    def build_context(self, service: str) -> Path | None:
        build = self.service(service).get("build")
        if build is None:
            return None
        if isinstance(build, dict):
            unknown = set(build) - {"context"}
            if unknown:
                raise UnknownKey(f"services.{service}.build: {', '.join(sorted(unknown))}")
            build = build.get("context", ".")
        return (self.directory / str(build)).resolve()

    # --- pieces of `podman run` --------------------------------------------------------------

    def environment(self, service: str) -> dict[str, str]:
        """The container's environment from compose: env files, then `environment:`."""
        spec = self.service(service)
        env: dict[str, str] = {}
        env_files = spec.get("env_file") or []
        for path in [env_files] if isinstance(env_files, str) else env_files:
            if isinstance(path, dict):
                raise UnknownKey(f"services.{service}.env_file: long syntax")
            env |= parse_env_file((self.directory / path).read_text(encoding="utf-8"))
        environment = spec.get("environment") or {}
        if isinstance(environment, list):
            for item in environment:
                key, sep, value = str(item).partition("=")
                if sep:
                    env[key] = value
        else:
            for key, value in environment.items():
                if value is not None:
                    env[key] = str(value)
        return env

    def ports(self, service: str) -> list[Port]:
        ports = []
        for item in self.service(service).get("ports") or []:
            if not isinstance(item, str):
                raise UnknownKey(f"services.{service}.ports: long syntax")
            spec, _, protocol = item.partition("/")
            if protocol not in ("", "tcp"):
                raise UnknownKey(f"services.{service}.ports: {item}")
            parts = spec.split(":")
            if len(parts) == 2:
                parts.insert(0, "")
            if len(parts) != 3:
                raise UnknownKey(f"services.{service}.ports: {item}")
            ports.append(Port(parts[0], int(parts[1]), int(parts[2])))
        return ports

    def mounts(self, service: str) -> list[str]:
        """`-v` values: bind mounts resolved against the project directory, named volumes
        prefixed with the project name, and file secrets at /run/secrets/<name>."""
        spec = self.service(service)
        mounts = []
        for item in spec.get("volumes") or []:
            if not isinstance(item, str):
                raise UnknownKey(f"services.{service}.volumes: long syntax")
            source, target, *options = item.split(":")
            if source.startswith((".", "/", "~")):
                source = str((self.directory / Path(source).expanduser()).resolve())
            else:
                declared = self.data.get("volumes") or {}
                if source not in declared:
                    raise ValueError(f"services.{service}.volumes: {source} is not declared")
                source = self.volume_name(source)
            mounts.append(":".join([source, target, *options]))
        secrets = self.data.get("secrets") or {}
        for item in spec.get("secrets") or []:
            name, target = (item, item) if isinstance(item, str) else (item["source"], None)
            if isinstance(item, dict):
                target = item.get("target", name)
                if set(item) - {"source", "target"}:
                    raise UnknownKey(f"services.{service}.secrets: {sorted(item)}")
            declared = secrets.get(name)
            if not declared or "file" not in declared:
                raise UnknownKey(f"secrets.{name}: only file secrets are translated")
            path = (self.directory / declared["file"]).resolve()
            where = target if str(target).startswith("/") else f"/run/secrets/{target}"
            mounts.append(f"{path}:{where}:ro")
        return mounts

    def healthcheck(self, service: str) -> Healthcheck:
        spec = self.service(service).get("healthcheck")
        if spec is None:
            return Healthcheck([], None)  # the image's own HEALTHCHECK applies
        unknown = set(spec) - {"test", "interval", "timeout", "retries", "start_period", "disable"}
        if unknown:
            raise UnknownKey(f"services.{service}.healthcheck: {', '.join(sorted(unknown))}")
        if spec.get("disable"):
            return Healthcheck(["--no-healthcheck"], None)
        test = spec["test"]
        if isinstance(test, str):
            command = test
        elif test[0] == "CMD":
            command = shlex.join(test[1:])
        elif test[0] == "CMD-SHELL":
            command = test[1]
        elif test[0] == "NONE":
            return Healthcheck(["--no-healthcheck"], None)
        else:
            raise UnknownKey(f"services.{service}.healthcheck.test: {test[0]}")
        argv = ["--health-cmd", command]
        for key, flag in (
            ("interval", "--health-interval"),
            ("timeout", "--health-timeout"),
            ("retries", "--health-retries"),
            ("start_period", "--health-start-period"),
        ):
            if key in spec:
                argv += [flag, str(spec[key])]
        return Healthcheck(argv, command)

    def run_args(
        self, service: str, *, env_file: Path, host_ports: Mapping[int, int] | None = None
    ) -> list[str]:
        """Arguments of `podman run -d` for `service`, image and command included.

        `env_file` is where to write the service's resolved environment (podman reads it,
        so no value shows in a process list). `host_ports` replaces published host ports
        (`{9090: 41234}`): a test publishes on free ports, the container side is unchanged.
        """
        spec = self.service(service)
        env = self.environment(service)
        env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
        env_file.chmod(0o600)
        args = [
            "--name",
            self.container_name(service),
            "--network",
            self.network,
            "--network-alias",
            service,
            "--env-file",
            str(env_file),
        ]
        for port in self.ports(service):
            host_port = (host_ports or {}).get(port.host_port, port.host_port)
            host = f"{port.host_ip}:" if port.host_ip else ""
            args += ["--publish", f"{host}{host_port}:{port.container_port}"]
        for mount in self.mounts(service):
            args += ["--volume", mount]
        if "user" in spec:
            args += ["--user", str(spec["user"])]
        if spec.get("read_only"):
            args += ["--read-only", "--read-only-tmpfs=false"]
        tmpfs = spec.get("tmpfs") or []
        for path in [tmpfs] if isinstance(tmpfs, str) else tmpfs:
            args += ["--tmpfs", str(path)]
        if "restart" in spec:
            args += ["--restart", str(spec["restart"])]
        args += self.healthcheck(service).argv
        entrypoint = spec.get("entrypoint")
        if entrypoint is not None:
            args += [
                "--entrypoint",
                json.dumps(entrypoint if isinstance(entrypoint, list) else shlex.split(entrypoint)),
            ]
        args.append(self.image(service))
        command = spec.get("command")
        if command is not None:
            args += command if isinstance(command, list) else shlex.split(command)
        return [str(a) for a in args]
