"""Podman for the container test: its own storage and settings, local base images.

No image registry is reachable from the machines this test runs on, and there is no Docker
daemon; Debian's podman runs containers, and Debian's own packages build every base image
the compose file needs except Grafana's. Everything the test machine needs lives here,
never in the Dockerfile or compose file users get:

* its own `podman --root/--runroot/--tmpdir` and a `CONTAINERS_CONF` file in a temporary
  directory (nothing is written to /etc): runtime `runc` (crun refuses the sandbox's hybrid
  cgroup layout), `default_ulimits = []` (the sandbox refuses the rlimits podman sets by
  default), cgroupfs, file-based events and logs (no systemd or journald), and netavark
  with its network definitions kept in the temporary directory;
* `--network host` for builds (the default build network has no route out) and the host's
  CA bundle mounted into builds that reach PyPI or Debian over TLS;
* `--format docker` for builds: OCI images drop the Dockerfile's HEALTHCHECK;
* base images made locally (`build_base_images`): `debootstrap --variant=minbase bookworm`
  imported as localhost/debian:bookworm, and stand-ins for python:3.11-slim-bookworm,
  prom/prometheus and prom/alertmanager built from `images/*.Containerfile`, tagged with the
  names the Dockerfile and compose file use. Network steps are retried (`RETRIES`). The
  images are kept as archives in a cache directory between runs on one machine
  (`COST_CONTAINER_CACHE`, default ~/.cache/cost-exporter/containers; `off` disables it);
  a fresh CI machine builds them all.

Without systemd podman never runs a healthcheck by itself: the test calls
`podman healthcheck run`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e import binaries

HERE = Path(__file__).resolve().parent
IMAGES = HERE / "images"

RETRIES = 3  # network steps (debootstrap, apt-get, pip) are tried up to 1 + RETRIES times
RETRY_PAUSE_S = 5.0
BUILD_TIMEOUT_S = 900.0

DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_IMAGE = "localhost/debian:bookworm"
HOST_CA_BUNDLE = Path("/etc/ssl/certs")


@dataclass(frozen=True)
class StandIn:
    """A base image built from a Containerfile in images/, tagged with the official name."""

    tag: str
    containerfile: str


# Tags as `podman` stores the names the Dockerfile and the compose file use.
PYTHON = StandIn("docker.io/library/python:3.11-slim-bookworm", "python.Containerfile")
PROMETHEUS = StandIn("docker.io/prom/prometheus:v2.55.1", "prometheus.Containerfile")
ALERTMANAGER = StandIn("docker.io/prom/alertmanager:v0.27.0", "alertmanager.Containerfile")
STAND_INS = (PYTHON, PROMETHEUS, ALERTMANAGER)

CONTAINERS_CONF = """\
[containers]
default_ulimits = []
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[network]
network_backend = "netavark"
network_config_dir = "{network_dir}"
"""

INSTALL_HINT = "apt-get install podman runc netavark aardvark-dns iptables debootstrap"


def report(line: str) -> None:
    """Print a progress line or a figure (pytest shows it with -s)."""
    print(f"[containers] {line}", flush=True)


# --- can podman run here? ---------------------------------------------------------------------


def unavailable(reason: str) -> None:
    """Skip: podman cannot run here. Fail instead when CI is set (see binaries.py)."""
    if binaries.in_ci():
        pytest.fail(f"{reason}; CI is set, so this is a failure, not a skip", pytrace=False)
    pytest.skip(reason)


def require_tools() -> None:
    """Skip (or fail under CI) unless podman and what it needs here are installed."""
    if os.geteuid() != 0:
        unavailable("the container test needs root (debootstrap, podman with its own --root)")
    for name in ("podman", "runc", "debootstrap", "iptables"):
        if binaries.find((name,)) is None:
            unavailable(f"{name} not found on PATH (install: {INSTALL_HINT})")
    if not any(
        Path(p).exists() for p in ("/usr/lib/podman/netavark", "/usr/libexec/podman/netavark")
    ):
        unavailable(f"netavark not installed (install: {INSTALL_HINT})")


# --- running podman ---------------------------------------------------------------------------


class PodmanError(AssertionError):
    pass


@dataclass
class Podman:
    """`podman` with its own storage, run directory and settings under `workdir`."""

    workdir: Path
    executable: str = field(default_factory=lambda: binaries.find(("podman",)) or "podman")

    def __post_init__(self) -> None:
        for name in ("root", "run", "tmp", "networks"):
            (self.workdir / name).mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "containers.conf"
        conf.write_text(CONTAINERS_CONF.format(network_dir=self.workdir / "networks"))
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}

    def argv(self, *args: str) -> list[str]:
        return [
            self.executable,
            "--root",
            str(self.workdir / "root"),
            "--runroot",
            str(self.workdir / "run"),
            "--tmpdir",
            str(self.workdir / "tmp"),
            *args,
        ]

    def run(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 120.0,
        stdin: bytes | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run podman; stdout and stderr come back as text (podman's stderr carries noise
        about systemd, which is absent here: read stdout)."""
        result = subprocess.run(
            self.argv(*args),
            env=self.env,
            input=stdin.decode() if stdin is not None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise PodmanError(
                f"podman {' '.join(args[:3])}... exited with {result.returncode}\n"
                f"{tail(result.stdout + result.stderr)}"
            )
        return result

    def exists(self, image: str) -> bool:
        return self.run("image", "exists", image, check=False).returncode == 0

    def build(
        self,
        context: Path,
        tag: str,
        *,
        containerfile: Path | None = None,
        log: Path,
        host_ca_bundle: bool = True,
    ) -> float:
        """Build `context` as `tag` (retried: builds reach Debian and PyPI); the seconds taken.

        `host_ca_bundle` mounts the host's /etc/ssl/certs over the image's for the build, for
        TLS through a proxy the host trusts (PyPI). Not for an image that installs the
        ca-certificates package: its set-up writes there.
        """
        args = ["build", "--network", "host", "--format", "docker", "--pull=never", "--tag", tag]
        if host_ca_bundle:
            args += ["--volume", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro"]
        if containerfile is not None:
            args += ["--file", str(containerfile)]
        args.append(str(context))
        started = time.monotonic()

        def attempt() -> None:
            result = self.run(*args, check=False, timeout=BUILD_TIMEOUT_S)
            log.write_text(result.stdout + result.stderr, encoding="utf-8")
            if result.returncode != 0:
                raise PodmanError(f"building {tag} failed:\n{tail(result.stdout + result.stderr)}")

        retry(f"build {tag}", attempt)
        return time.monotonic() - started

    def image_size(self, image: str) -> int:
        """Uncompressed bytes of all the layers of `image`."""
        return int(self.run("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())

    def teardown(self) -> None:
        """Remove every container, volume and network, unmount, delete the storage."""
        self.run("rm", "--all", "--force", "--time", "0", check=False, timeout=120)
        self.run("volume", "rm", "--all", "--force", check=False)
        for name in self.run("network", "ls", "--format", "{{.Name}}", check=False).stdout.split():
            if name != "podman":
                self.run("network", "rm", "--force", name, check=False)
        root = str(self.workdir)
        with open("/proc/self/mounts", encoding="utf-8") as mounts:
            mounted = [line.split()[1] for line in mounts if line.split()[1].startswith(root)]
        for mount in sorted(mounted, key=len, reverse=True):
            subprocess.run(["umount", "--lazy", mount], check=False, capture_output=True)
        shutil.rmtree(self.workdir, ignore_errors=True)


def tail(text: str, lines: int = 40) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


def retry(what: str, action: Callable[[], None], cleanup: Callable[[], None] | None = None) -> None:
    """Run `action`, again up to RETRIES times after a failure (network steps flake)."""
    for attempt in range(RETRIES + 1):
        try:
            action()
            return
        except (AssertionError, subprocess.SubprocessError, OSError) as exc:
            if attempt == RETRIES:
                raise
            last = [line.strip() for line in str(exc).splitlines() if line.strip()][-1:]
            report(f"{what}: attempt {attempt + 1} failed, retrying: {' '.join(last)}")
            if cleanup is not None:
                cleanup()
            time.sleep(RETRY_PAUSE_S)


def run_logged(argv: Sequence[str], log: Path, timeout: float = BUILD_TIMEOUT_S) -> None:
    with log.open("wb") as out:
        result = subprocess.run(
            argv, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False
        )
    if result.returncode != 0:
        text = log.read_text(encoding="utf-8", errors="replace")
        raise PodmanError(f"{' '.join(argv[:3])}... exited with {result.returncode}:\n{tail(text)}")


# --- base images ------------------------------------------------------------------------------


def cache_dir() -> Path | None:
    setting = os.environ.get("COST_CONTAINER_CACHE")
    if setting is not None and setting.strip().lower() in ("", "0", "off", "no", "false"):
        return None
    if setting:
        return Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cost-exporter" / "containers"


def recipe_key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def debian_key() -> str:
    return recipe_key("debootstrap", "--variant=minbase", DEBIAN_SUITE, DEBIAN_MIRROR)


def stand_in_key(stand_in: StandIn) -> str:
    return recipe_key(debian_key(), stand_in.tag, (IMAGES / stand_in.containerfile).read_text())


def build_debian(podman: Podman, logs: Path) -> None:
    """debootstrap a minimal bookworm and import it as localhost/debian:bookworm."""
    rootfs = podman.workdir / "rootfs-bookworm"

    def debootstrap() -> None:
        run_logged(
            ["debootstrap", "--variant=minbase", DEBIAN_SUITE, str(rootfs), DEBIAN_MIRROR],
            logs / "debootstrap.log",
        )

    retry("debootstrap", debootstrap, cleanup=lambda: shutil.rmtree(rootfs, ignore_errors=True))
    # What debootstrap downloaded is not part of an image (the official one has none either).
    for leftover in (rootfs / "var/cache/apt/archives").glob("*.deb"):
        leftover.unlink()
    for leftover in (rootfs / "var/lib/apt/lists").glob("*_*"):
        leftover.unlink()
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    result = subprocess.run(
        podman.argv("import", "--change", 'CMD ["bash"]', "-", DEBIAN_IMAGE),
        env=podman.env,
        stdin=tar.stdout,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    tar.wait()
    if result.returncode != 0 or tar.returncode != 0:
        raise PodmanError(f"podman import failed:\n{tail(result.stdout + result.stderr)}")
    shutil.rmtree(rootfs, ignore_errors=True)


@dataclass
class BaseImages:
    """What `build_base_images` did, for the report."""

    seconds: dict[str, float] = field(default_factory=dict)
    from_cache: list[str] = field(default_factory=list)


def build_base_images(podman: Podman, logs: Path) -> BaseImages:
    """localhost/debian:bookworm and the stand-ins, from the cache or built now."""
    from concurrent.futures import ThreadPoolExecutor

    done = BaseImages()
    cache = cache_dir()

    def cached(name: str, key: str, image: str, make: Callable[[], None]) -> None:
        started = time.monotonic()
        archive = cache / f"{name}-{key}.tar" if cache else None
        if archive is not None and archive.exists():
            result = podman.run("load", "--input", str(archive), check=False, timeout=600)
            if result.returncode == 0 and podman.exists(image):
                done.from_cache.append(name)
                done.seconds[name] = time.monotonic() - started
                return
            archive.unlink(missing_ok=True)  # unreadable: build it again
        make()
        if archive is not None:
            archive.parent.mkdir(parents=True, exist_ok=True)
            partial = archive.with_suffix(".partial")
            podman.run(
                "save", "--format", "docker-archive", "--output", str(partial), image, timeout=600
            )
            for stale in archive.parent.glob(f"{name}-*.tar"):
                stale.unlink()
            partial.replace(archive)
        done.seconds[name] = time.monotonic() - started

    cached("debian", debian_key(), DEBIAN_IMAGE, lambda: build_debian(podman, logs))

    def stand_in(image: StandIn) -> None:
        name = image.containerfile.removesuffix(".Containerfile")
        cached(
            name,
            stand_in_key(image),
            image.tag,
            lambda: podman.build(
                IMAGES,
                image.tag,
                containerfile=IMAGES / image.containerfile,
                log=logs / f"build-{name}.log",
                host_ca_bundle=False,  # apt reads Debian over http, with its own keys
            ),
        )

    with ThreadPoolExecutor(max_workers=len(STAND_INS)) as pool:
        for future in [pool.submit(stand_in, image) for image in STAND_INS]:
            future.result()
    return done
