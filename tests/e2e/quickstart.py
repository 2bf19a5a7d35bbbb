"""The README's "Quick start with Docker", read as the steps the container test runs.

The container test does not keep its own copy of the quick start: it reads the shell
blocks of that README section and runs them, line by line. Each line must be one of the
few command shapes below (`parse`); anything else fails, in `make test` already
(tests/test_containers.py), so the README cannot say something the test does not do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SECTION = "## Quick start with Docker"

# What each step is, by the shape of its command.
SHAPES: dict[str, re.Pattern[str]] = {
    "copy": re.compile(r"cp (?P<source>\S+) (?P<target>\S+)"),
    "write": re.compile(r"printf '%s' '(?P<value>[^']*)' > (?P<target>\S+)"),
    "chmod": re.compile(r"chmod (?P<mode>[0-7]{3,4}) (?P<target>\S+)"),
    "append": re.compile(r"echo '(?P<line>[^']*)' >> (?P<target>\S+)"),
    "up": re.compile(r"docker compose up -d(?P<services>(?: [a-z][\w-]*)*)"),
    "post": re.compile(r"curl -X POST (?P<url>http://localhost:\d+/\S*)"),
    "get": re.compile(r"curl -s (?P<url>http://localhost:\d+/\S*) \| grep '(?P<pattern>[^']*)'"),
}


@dataclass(frozen=True)
class Step:
    command: str  # as the README writes it, without its comment
    kind: str  # a key of SHAPES
    args: dict[str, str]

    @property
    def services(self) -> list[str]:
        return self.args.get("services", "").split()


def section(text: str, heading: str = SECTION) -> str:
    start = text.index(heading + "\n")
    end = text.find("\n## ", start + len(heading))
    return text[start : end if end != -1 else len(text)]


def commands(text: str) -> list[str]:
    """The command lines of the ```sh blocks of the quick start, comments removed."""
    lines: list[str] = []
    inside = False
    for line in section(text).splitlines():
        if line.startswith("```"):
            inside = line.strip() == "```sh" if not inside else False
            continue
        if inside:
            command = re.sub(r"\s+#\s.*$", "", line).strip()
            if command and not command.startswith("#"):
                lines.append(command)
    return lines


def parse(command: str) -> Step:
    for kind, shape in SHAPES.items():
        match = shape.fullmatch(command)
        if match:
            args = {k: v for k, v in match.groupdict().items() if v is not None}
            return Step(command, kind, args)
    raise ValueError(
        f"README quick start: the container test cannot run {command!r} "
        f"(it knows: {', '.join(SHAPES)}; see tests/e2e/quickstart.py)"
    )


def steps(readme: Path = README) -> list[Step]:
    return [parse(command) for command in commands(readme.read_text(encoding="utf-8"))]
