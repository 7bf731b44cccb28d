"""Import rules: the engine and `triage classify` work without torch; Qt only under gui/."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    return set(out.stdout.split())


def test_engine_imports_without_torch_or_qt():
    mods = _modules_after("import triage_app.engine, triage_app.cli, triage_app.io, triage_app.bundle")
    assert "torch" not in mods and "transformers" not in mods
    assert not any(m.startswith("PySide6") for m in mods)


def test_classify_runs_without_torch(tiny_bundle, sample_csv, tmp_path):
    code = (
        "import sys, builtins\n"
        "real = builtins.__import__\n"
        "def guard(name, *a, **k):\n"
        "    if name.split('.')[0] in ('torch', 'transformers', 'PySide6'):\n"
        "        raise ImportError('blocked ' + name)\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = guard\n"
        "from triage_app.cli import main\n"
        f"sys.exit(main(['classify', {str(sample_csv)!r}, '-o', {str(tmp_path / 'o.csv')!r}, '--model', {str(tiny_bundle)!r}, '-q']))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "o.csv").exists()


def _imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_qt_only_under_gui_and_torch_only_under_trainer():
    for f in (ROOT / "triage_app").rglob("*.py"):
        names = _imports_of(f)
        if "gui" not in f.relative_to(ROOT / "triage_app").parts:
            assert "PySide6" not in names, f
        assert "torch" not in names and "transformers" not in names, f
    for f in (ROOT / "trainer").rglob("*.py"):
        assert "PySide6" not in _imports_of(f), f
