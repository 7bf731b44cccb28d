"""The start-up check of Qt's X11 (xcb) system libraries (triage_app.sysreqs): detection, the
message, the platforms it skips, the real entry points exiting 2 before any QApplication exists,
and the real libraries of this machine."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from triage_app import sysreqs

ROOT = Path(__file__).resolve().parent.parent
# CI installs the libraries (.ci/run) and sets this: there, a machine without them fails instead of skipping
REQUIRE_LIBS = os.environ.get("TRIAGE_REQUIRE_GUI_LIBS") == "1"

LDD_MISSING = """\
\tlinux-vdso.so.1 (0x00007ffd4a9f2000)
\tlibQt6XcbQpa.so.6 => /opt/app/PySide6/Qt/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x00007f08af30a000)
\tlibxkbcommon-x11.so.0 => not found
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f08af220000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f08af18d000)
\tlibxcb-icccm.so.4 => not found
\t/lib64/ld-linux-x86-64.so.2 (0x00007f08af3da000)
"""


def _fake_loader(fail: dict[str, str]):
    """A stand-in for ctypes whose CDLL raises OSError (with the loader's message) for ``fail``."""
    opened = []

    def cdll(name):
        opened.append(name)
        if name in fail:
            raise OSError(f"{fail[name]}: cannot open shared object file: No such file or directory")
        return object()

    return SimpleNamespace(CDLL=cdll), opened


# ---- detection -----------------------------------------------------------------------------------

def test_parse_ldd_reports_not_found_once_in_order():
    missing, listed = sysreqs.parse_ldd(LDD_MISSING)
    assert missing == ["libxkbcommon-x11.so.0", "libxcb-icccm.so.4"]
    assert {"libxcb-cursor.so.0", "libxcb.so.1", "libxcb-icccm.so.4", "linux-vdso.so.1"} <= listed


def test_missing_libraries_from_ldd_and_the_dlopened_cursor_library(monkeypatch, tmp_path):
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    seen = []
    monkeypatch.setattr(sysreqs, "ldd", lambda p: seen.append(p) or LDD_MISSING.replace(
        "\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f08af220000)\n", ""))
    fake, opened = _fake_loader({"libxcb-cursor.so.0": "libxcb-cursor.so.0"})
    monkeypatch.setattr(sysreqs, "ctypes", fake)
    assert sysreqs.missing_xcb_libraries(plugin) == ["libxkbcommon-x11.so.0", "libxcb-icccm.so.4",
                                                     "libxcb-cursor.so.0"]
    assert seen == [plugin]
    assert opened == ["libxcb-cursor.so.0"]  # ldd did not list it (Qt dlopen()s it): loaded explicitly


def test_cursor_library_listed_by_ldd_is_not_loaded_again(monkeypatch, tmp_path):
    monkeypatch.setattr(sysreqs, "ldd", lambda p: LDD_MISSING)
    fake, opened = _fake_loader({})
    monkeypatch.setattr(sysreqs, "ctypes", fake)
    assert sysreqs.missing_xcb_libraries(tmp_path / "libqxcb.so") == ["libxkbcommon-x11.so.0", "libxcb-icccm.so.4"]
    assert opened == []


def test_without_ldd_every_needed_library_is_loaded(monkeypatch, tmp_path):
    monkeypatch.setattr(sysreqs, "ldd", lambda p: None)  # no ldd on this system
    # libxkbcommon-x11 itself is there but its dependency libxcb-xkb is not: the loader names the dependency
    fake, opened = _fake_loader({"libxcb-keysyms.so.1": "libxcb-keysyms.so.1",
                                 "libxkbcommon-x11.so.0": "libxcb-xkb.so.1", "libxcb-xkb.so.1": "libxcb-xkb.so.1"})
    monkeypatch.setattr(sysreqs, "ctypes", fake)
    assert sysreqs.missing_xcb_libraries(tmp_path / "libqxcb.so") == ["libxcb-keysyms.so.1", "libxcb-xkb.so.1"]
    assert set(opened) == set(sysreqs.FALLBACK) and "libxcb-cursor.so.0" in opened


def test_load_missing_with_the_real_loader():
    assert sysreqs.load_missing(["libtriage-does-not-exist.so.7"]) == ["libtriage-does-not-exist.so.7"]
    assert sysreqs.load_missing(["libc.so.6"]) == []


def test_real_ldd_runs_on_a_real_library():
    if shutil.which("ldd") is None:
        pytest.skip("no ldd here")
    out = sysreqs.ldd(Path(sys.executable).resolve())
    if out is None:  # a statically linked interpreter
        pytest.skip(f"{sys.executable} is not dynamically linked")
    missing, listed = sysreqs.parse_ldd(out)
    assert missing == [] and any(s.startswith("libc.so") for s in listed)


# ---- when to check ----------------------------------------------------------------------------

@pytest.mark.parametrize("environ, argv, expected", [
    ({}, [], True),                                                      # Qt's default on Linux
    ({"QT_QPA_PLATFORM": "xcb"}, [], True),
    ({"QT_QPA_PLATFORM": "xcb:nograb"}, [], True),
    ({"QT_QPA_PLATFORM": "offscreen"}, [], False),
    ({"QT_QPA_PLATFORM": "wayland"}, [], False),
    ({"QT_QPA_PLATFORM": "minimal"}, [], False),
    ({"QT_QPA_PLATFORM": "vnc"}, [], False),
    ({"QT_QPA_PLATFORM": "wayland;xcb"}, [], False),                     # Wayland is tried first
    ({"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"}, [], False),
    ({"XDG_SESSION_TYPE": "wayland"}, [], True),                         # no compositor: falls back to xcb
    ({"XDG_SESSION_TYPE": "x11", "WAYLAND_DISPLAY": "wayland-0"}, [], True),
    ({}, ["-platform", "offscreen"], False),                             # Qt's own command-line option
    ({"QT_QPA_PLATFORM": "offscreen"}, ["--platform", "xcb"], True),
])
def test_uses_xcb(environ, argv, expected):
    assert sysreqs.uses_xcb(environ, argv, platform="linux") is expected


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_no_check_outside_linux(platform):
    assert sysreqs.uses_xcb({}, [], platform=platform) is False


def test_offscreen_skips_the_check(monkeypatch):
    def must_not_run(*a):
        raise AssertionError("the libraries were checked for the offscreen platform")

    monkeypatch.setattr(sysreqs, "missing_xcb_libraries", must_not_run)
    assert sysreqs.gui_problem({"QT_QPA_PLATFORM": "offscreen"}) is None
    assert sysreqs.gui_problem({"DISPLAY": ":0"}, ["-platform", "offscreen"]) is None


def test_no_display_is_a_problem_of_its_own(monkeypatch):
    monkeypatch.setattr(sysreqs, "missing_xcb_libraries", lambda: [])
    if not sys.platform.startswith("linux"):
        pytest.skip("the check runs on Linux only")
    assert sysreqs.gui_problem({"DISPLAY": ":0"}) is None
    assert sysreqs.gui_problem({}, ["-display", ":1"]) is None
    p = sysreqs.gui_problem({})
    assert p == sysreqs.GuiProblem(missing=(), no_display=True, wayland_display=False)
    assert "DISPLAY is not set" in p.message() and "ssh -X" in p.message()
    p = sysreqs.gui_problem({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"})
    assert p.no_display and "QT_QPA_PLATFORM=wayland" in p.message()


# ---- the message -------------------------------------------------------------------------------

def test_message_names_the_libraries_and_both_install_commands():
    p = sysreqs.GuiProblem(missing=("libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-xkb.so.1",
                                    "libxcb-randr.so.0", "libfoo-bar.so.3"))
    msg = p.message()
    assert "libxcb-cursor.so.0, libxcb-icccm.so.4, libxcb-xkb.so.1, libxcb-randr.so.0, libfoo-bar.so.3" in msg
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-xkb1 libxcb-randr0\n" in msg
    assert "sudo dnf install xcb-util-cursor xcb-util-wm libxcb\n" in msg  # one Fedora package, named once
    assert "apt-file search libfoo-bar.so.3" in msg and "dnf provides '*/libfoo-bar.so.3'" in msg
    assert "DISPLAY" not in msg


def test_every_known_library_has_both_package_names():
    for soname, (deb, rpm) in sysreqs.PACKAGES.items():
        assert soname.startswith("lib") and ".so." in soname
        assert deb and rpm and " " not in deb + rpm, soname
    for s in ("libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-image.so.0",
              "libxcb-render-util.so.0", "libxkbcommon-x11.so.0", "libxcb-xkb.so.1", "libxcb-randr.so.0",
              "libxcb-shape.so.0", "libxcb-xinerama.so.0", "libxcb.so.1", "libX11-xcb.so.1", "libEGL.so.1",
              "libGL.so.1", "libfontconfig.so.1", "libdbus-1.so.3"):
        assert s in sysreqs.PACKAGES


def test_require_gui_prints_and_exits_2(monkeypatch, capsys):
    monkeypatch.setattr(sysreqs, "_passed", False)
    monkeypatch.setattr(sysreqs, "gui_problem", lambda argv=(): sysreqs.GuiProblem(missing=("libxcb-icccm.so.4",)))
    with pytest.raises(SystemExit) as e:
        sysreqs.require_gui([])
    assert e.value.code == 2
    assert "sudo apt-get install libxcb-icccm4" in capsys.readouterr().err


# ---- the real entry points, in a subprocess, with a fake ldd on PATH ---------------------------------

@pytest.fixture
def fake_ldd_env(tmp_path) -> tuple[dict, Path]:
    """An environment where Qt would use xcb on an X display that does not exist (so a QApplication
    created by mistake aborts instead of passing), and whose ``ldd`` reports two libraries missing
    and logs what it was asked about."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the check runs on Linux only")
    bindir, log = tmp_path / "bin", tmp_path / "ldd.log"
    bindir.mkdir()
    ldd = bindir / "ldd"
    ldd.write_text('#!/bin/sh\necho "$@" >> "$FAKE_LDD_LOG"\ncat <<\'EOF\'\n' + LDD_MISSING + "EOF\n")
    ldd.chmod(ldd.stat().st_mode | stat.S_IXUSR)
    env = {k: v for k, v in os.environ.items()
           if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE", "PYTHONPATH")}
    env.update(PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}", DISPLAY=":987", FAKE_LDD_LOG=str(log),
               PYTHONPATH=str(ROOT))
    return env, log


def _assert_clear_exit(r, log: Path):
    assert r.returncode == 2, r.stdout + r.stderr
    assert "libxkbcommon-x11.so.0, libxcb-icccm.so.4" in r.stderr
    assert "sudo apt-get install libxkbcommon-x11-0 libxcb-icccm4" in r.stderr
    assert "sudo dnf install libxkbcommon-x11 xcb-util-wm" in r.stderr
    assert "Traceback" not in r.stderr and "qt.qpa" not in r.stderr, r.stderr
    assert log.read_text().strip().endswith("platforms/libqxcb.so")  # asked about the real plugin


def test_gui_main_exits_2_before_creating_a_qapplication(fake_ldd_env, tmp_path):
    env, log = fake_ldd_env
    code = ("import sys\n"
            "from PySide6.QtWidgets import QApplication\n"
            "from triage_app.gui import app\n"
            "try:\n    app.main(['--settings', sys.argv[1]])\n"
            "except SystemExit as e:\n    code = e.code\n"
            "else:\n    code = 'returned'\n"
            "print('qapplication:', QApplication.instance())\n"
            "sys.exit(code)\n")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.ini")], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    _assert_clear_exit(r, log)
    assert "qapplication: None" in r.stdout


def test_launcher_exits_2_before_its_own_qapplication(fake_ldd_env, tmp_path):
    """The packaged app's launcher creates a QApplication before the GUI's main() when asked to
    quit after a delay: the check must come first there too."""
    env, log = fake_ldd_env
    r = subprocess.run([sys.executable, "-m", "triage_app.frozen_main", "--quit-after-ms", "100",
                        "--settings", str(tmp_path / "s.ini")], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    _assert_clear_exit(r, log)
    assert "could not start" not in r.stderr


def test_module_command_reports_the_same(fake_ldd_env, tmp_path):
    env, log = fake_ldd_env
    r = subprocess.run([sys.executable, "-m", "triage_app.sysreqs"], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    _assert_clear_exit(r, log)
    env["QT_QPA_PLATFORM"] = "offscreen"
    log.unlink()
    r = subprocess.run([sys.executable, "-m", "triage_app.sysreqs"], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "nothing to check" in r.stdout
    assert not log.exists()  # offscreen: ldd never ran
    r = subprocess.run([sys.executable, "-m", "triage_app.sysreqs", "--quiet"], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")  # `make run` calls it so


# ---- this machine's real libraries -----------------------------------------------------------------

def _linux_with_plugin() -> Path:
    if not sys.platform.startswith("linux"):
        pytest.skip("the check runs on Linux only")
    plugin = sysreqs.find_xcb_plugin()
    assert plugin is not None and plugin.name == "libqxcb.so", "PySide6's xcb plugin was not found"
    return plugin


def test_ldd_and_the_loader_agree_on_this_machine():
    """Two independent ways to ask the dynamic loader give the same answer (whatever is installed)."""
    plugin = _linux_with_plugin()
    if shutil.which("ldd") is None:
        pytest.skip("no ldd here")
    # (ldd lists in dependency-tree order, the fallback in its table order: compare as sets)
    assert set(sysreqs.missing_xcb_libraries(plugin)) == set(sysreqs.load_missing(sysreqs.FALLBACK))


def test_this_machine_has_every_library():
    plugin = _linux_with_plugin()
    truly_missing = sysreqs.load_missing(sysreqs.FALLBACK)
    if truly_missing and not REQUIRE_LIBS:
        pytest.skip("this machine cannot run the GUI on X11:\n" + sysreqs.GuiProblem(tuple(truly_missing)).message())
    assert sysreqs.missing_xcb_libraries(plugin) == []
    assert sysreqs.gui_problem({"DISPLAY": ":0"}) is None


def test_real_x11_start_under_xvfb(tmp_path):
    """The check's "nothing missing" is right: Qt really starts on its xcb plugin (Xvfb)."""
    _linux_with_plugin()
    if shutil.which("xvfb-run") is None or sysreqs.load_missing(sysreqs.FALLBACK):
        if REQUIRE_LIBS:
            pytest.fail("xvfb-run and Qt's xcb libraries must be installed here (see .ci/run)")
        pytest.skip("needs xvfb-run and Qt's xcb libraries")
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "XDG_SESSION_TYPE")}
    env.update(QT_QPA_PLATFORM="xcb", TRIAGE_STARTUP_PROBE="1", PYTHONPATH=str(ROOT))
    r = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable, "-m",
                        "triage_app.frozen_main", "--quit-after-ms", "1500", "--settings", str(tmp_path / "s.ini")],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "startup-probe: platform xcb" in r.stdout, r.stdout + r.stderr


def test_app_entry_point_imports_no_qt_before_the_check():
    """The `triage-app` script's module must load without Qt: a machine that lacks the libraries
    cannot import PySide6.QtGui, and the check in main() has to run first to name them."""
    code = ("import sys, triage_app.gui.app as a; "
            "print(sorted(m for m in sys.modules if m.startswith('PySide6')))")
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    assert out.stdout.strip() == "[]", out.stdout
