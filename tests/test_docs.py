"""The product documents name real things: every test they cite exists, every file path they cite
exists in the tree."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "BENCHMARKS.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_every_cited_test_exists():
    missing, cited = [], 0
    for doc in DOCS:
        for path, name in re.findall(r"(tests/test_\w+\.py)::(test_\w+)", doc.read_text(encoding="utf-8")):
            cited += 1
            f = ROOT / path
            if not f.is_file() or not re.search(rf"^(async )?def {name}\b", f.read_text(encoding="utf-8"), re.M):
                missing.append(f"{doc.name}: {path}::{name}")
    assert cited > 100                      # RELIABILITY.md cites its tests
    assert not missing, "documents cite tests that do not exist:\n" + "\n".join(missing)


def test_cited_source_files_exist():
    missing, cited = [], 0
    for doc in DOCS:
        for path in re.findall(r"`((?:triage_app|trainer|bench|tests|docs)/[\w/.-]+\.(?:py|md|spec))`",
                               doc.read_text(encoding="utf-8")):
            cited += 1
            if not (ROOT / path).exists():
                missing.append(f"{doc.name}: {path}")
    assert cited > 20                       # ARCHITECTURE.md maps the modules
    assert not missing, "documents cite files that do not exist:\n" + "\n".join(missing)
