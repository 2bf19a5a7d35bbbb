"""Point every alert's `runbook_url` at docs/runbook.md under another base URL.

    make rules RUNBOOK_BASE=https://git.example.com/ops/cost-exporter/-/blob/main

Prometheus 2.42 rule files cannot take a variable in an annotation, so the base is
written into the files: the rules (prometheus/rules/*.yml) and the annotations their
promtool tests expect (prometheus/tests/*.yml). Only the part before `/docs/runbook.md#`
changes; each anchor stays the alert's own section. The Grafana dashboard reads the base
back from the rules (`base()`), so `make rules` regenerates it too.

The base is where the repository's files are served: `<base>/docs/runbook.md` must be the
runbook, `<base>/README.md` the README (a fork, a mirror, an internal Git server).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = (*sorted((HERE / "rules").glob("*.yml")), *sorted((HERE / "tests").glob("*.yml")))
RUNBOOK = "/docs/runbook.md"
URL = re.compile(r"(?m)^(\s*runbook_url: )(\S+?)(" + re.escape(RUNBOOK) + r"#[a-z0-9-]+)$")


def base(rules: Path = HERE / "rules" / "costs.yml") -> str:
    """The base the shipped rules point at (all their runbook_url share it)."""
    bases = {match[2] for match in URL.finditer(rules.read_text(encoding="utf-8"))}
    if len(bases) != 1:
        raise ValueError(f"{rules}: expected one runbook base, found {sorted(bases)}")
    return bases.pop()


def rewrite(text: str, new_base: str) -> str:
    return URL.sub(lambda m: f"{m[1]}{new_base}{m[3]}", text)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not re.fullmatch(r"https?://\S+", argv[0]):
        print(__doc__, file=sys.stderr)
        print("give the base URL: make rules RUNBOOK_BASE=https://...", file=sys.stderr)
        return 2
    new_base = argv[0].rstrip("/")
    for path in FILES:
        text = path.read_text(encoding="utf-8")
        path.write_text(rewrite(text, new_base), encoding="utf-8")
    print(f"runbook_url: {new_base}{RUNBOOK}#<alert> in {len(FILES)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
