"""Can this machine open TicketTriage's window?  Checked before Qt creates its QApplication.

On Linux, Qt's X11 platform plugin (``libqxcb.so``, shipped in the PySide6 wheel and in the
packaged app) links against system libraries that a fresh Debian/Ubuntu desktop often lacks
(``libxcb-cursor0``, ``libxcb-icccm4``, ``libxkbcommon-x11-0`` ...).  Without them Qt aborts inside
the QApplication constructor with "could not load the Qt platform plugin xcb", a message that
names neither the library nor the package.  :func:`require_gui` asks the dynamic loader first
and, when something is missing, prints one message with the missing libraries and the
``apt-get`` / ``dnf`` command that installs them, then exits with :data:`EXIT_CODE`.

How: ``ldd`` on the plugin (it resolves the whole dependency tree, with the plugin's RUNPATH and
the process's ``LD_LIBRARY_PATH``, exactly as Qt's ``dlopen`` will), plus ``ctypes`` for the
libraries Qt opens with ``dlopen`` itself (``libxcb-cursor`` since Qt 6.5).  Without ``ldd``, or
without the plugin file, every known library is tried with ``ctypes``.

Only when Qt will start with its xcb plugin: Linux, ``QT_QPA_PLATFORM`` unset or ``xcb`` (and no
``-platform`` argument naming another plugin).  ``offscreen``, ``wayland``, ``minimal``, ``vnc`` ...
need none of these libraries; an unset ``QT_QPA_PLATFORM`` in a Wayland session
(``XDG_SESSION_TYPE=wayland`` with ``WAYLAND_DISPLAY``) makes Qt try its Wayland plugin first, so
that is not checked either.  With xcb and no ``DISPLAY`` Qt would abort too ("could not connect to
display"): that is reported the same way.

    python -m triage_app.sysreqs [--quiet] [-platform NAME]   # the same check from a shell: exit 0, or 2 and the message

Imports nothing from Qt (this module runs before Qt is loaded).
"""
from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

EXIT_CODE = 2

# soname -> (Debian/Ubuntu package, Fedora package).  The first group is what Qt's xcb plugin
# (libqxcb.so -> libQt6XcbQpa.so.6) needs beyond a minimal desktop; the rest come with any desktop
# but are missing on minimal or server installs.
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libGLdispatch.so.0": ("libglvnd0", "libglvnd"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
}

# Opened by Qt with dlopen() at run time (the cursor library since Qt 6.5): ldd of the plugin
# need not list it, so it is loaded explicitly.
DLOPENED = ("libxcb-cursor.so.0",)

# Without ldd (or without the plugin file): the system libraries that PySide6 6.x's libqxcb.so,
# libQt6XcbQpa.so.6 and libQt6Gui.so.6 name as NEEDED, each tried with the dynamic loader.
FALLBACK = tuple(s for s in PACKAGES if s not in ("libxcb-xinerama.so.0", "libxcb-xinput.so.0", "libOpenGL.so.0"))

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found\s*$")
_LISTED = re.compile(r"^\s*(\S+)\s+(?:=>|\()")
_passed = False  # require_gui() succeeded once in this process (the frozen path calls it twice)


@dataclass(frozen=True)
class GuiProblem:
    """Why Qt's xcb plugin would abort: missing libraries (sonames) and/or no X display."""

    missing: tuple[str, ...] = ()
    no_display: bool = False
    wayland_display: bool = False  # no DISPLAY, but a Wayland compositor is there

    def message(self) -> str:
        lines = ["TicketTriage cannot open its window."]
        if self.missing:
            lines += ["", "Qt's X11 platform plugin (xcb) needs system libraries that are not installed:",
                      "    " + ", ".join(self.missing), "Install them, then start TicketTriage again:"]
            lines += install_lines(self.missing)
        if self.no_display:
            lines += ["", "There is no X11 display to open the window on: DISPLAY is not set."]
            if self.wayland_display:
                lines.append("This is a Wayland session: start it with QT_QPA_PLATFORM=wayland.")
            else:
                lines.append("Start TicketTriage from a desktop session (over SSH: ssh -X).")
        lines += ["", "Without a window, the command line works: `triage --help` "
                      "(in the packaged app: `TicketTriage cli --help`)."]
        return "\n".join(lines)


def _unique(items) -> list[str]:
    return list(dict.fromkeys(items))


def install_lines(missing: Sequence[str]) -> list[str]:
    """The apt-get and dnf commands that install ``missing`` (sonames), indented; a search hint for
    a soname whose package is not known here."""
    apt = _unique(PACKAGES[s][0] for s in missing if s in PACKAGES)
    dnf = _unique(PACKAGES[s][1] for s in missing if s in PACKAGES)
    lines = []
    if apt:
        lines += ["    Debian/Ubuntu:  sudo apt-get install " + " ".join(apt),
                  "    Fedora/RHEL:    sudo dnf install " + " ".join(dnf)]
    for s in missing:
        if s not in PACKAGES:
            lines.append(f"    {s}: find its package with `apt-file search {s}` or `dnf provides '*/{s}'`")
    return lines


def _qt_arg(argv: Sequence[str], name: str) -> str | None:
    """The value of Qt's ``-name VALUE`` / ``--name VALUE`` command-line option, if given."""
    for i, a in enumerate(argv):
        if a in (f"-{name}", f"--{name}") and i + 1 < len(argv):
            return argv[i + 1]
    return None


def uses_xcb(environ: Mapping[str, str] | None = None, argv: Sequence[str] = (),
             platform: str | None = None) -> bool:
    """Will Qt start with its xcb (X11) plugin?  Mirrors QGuiApplication's choice on Linux."""
    environ = os.environ if environ is None else environ
    if not (platform or sys.platform).startswith("linux"):
        return False
    requested = _qt_arg(argv, "platform") or environ.get("QT_QPA_PLATFORM", "")
    if requested.strip():
        # "xcb", "xcb:option=...", or a fallback list "wayland;xcb" (the first one is tried first)
        first = requested.split(";")[0].split(":")[0].strip().lower()
        return first == "xcb"
    if environ.get("XDG_SESSION_TYPE", "").lower() == "wayland" and environ.get("WAYLAND_DISPLAY"):
        return False  # Qt tries its Wayland plugin first in a Wayland session
    return True


def find_xcb_plugin() -> Path | None:
    """``libqxcb.so`` of the PySide6 that the app will load (venv, or the PyInstaller bundle)."""
    roots = []
    meipass = getattr(sys, "_MEIPASS", None)
    if meipass:
        roots.append(Path(meipass) / "PySide6")
    try:
        spec = importlib.util.find_spec("PySide6")  # finds the package without importing Qt
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        roots += [Path(p) for p in spec.submodule_search_locations]
    for root in roots:
        for rel in ("Qt/plugins/platforms/libqxcb.so", "plugins/platforms/libqxcb.so"):
            if (root / rel).is_file():
                return root / rel
    return None


def parse_ldd(output: str) -> tuple[list[str], set[str]]:
    """(sonames ``ldd`` reports as "not found", every soname it lists)."""
    missing, listed = [], set()
    for line in output.splitlines():
        m = _NOT_FOUND.match(line)
        if m:
            missing.append(m.group(1))
        m = _LISTED.match(line)
        if m:
            listed.add(m.group(1))
    return _unique(missing), listed


def ldd(lib: Path) -> str | None:
    """``ldd LIB``'s output, or None where ldd is missing or cannot read the file."""
    exe = shutil.which("ldd")
    if exe is None:
        return None
    try:
        r = subprocess.run([exe, str(lib)], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout if "=>" in r.stdout else None


def load_missing(sonames: Sequence[str]) -> list[str]:
    """The sonames the dynamic loader cannot open (or whose own dependency it cannot open: then
    that dependency is named, as the loader's message names it)."""
    missing = []
    for so in sonames:
        try:
            ctypes.CDLL(so)
        except OSError as e:
            first = str(e).split(":", 1)[0].strip()
            missing.append(first if first.startswith("lib") and ".so" in first else so)
    return _unique(missing)


def missing_xcb_libraries(plugin: Path | None = None) -> list[str]:
    """Sonames that Qt's xcb plugin needs and the dynamic loader cannot find (empty: all there)."""
    plugin = plugin or find_xcb_plugin()
    out = ldd(plugin) if plugin is not None else None
    if out is None:
        return load_missing(FALLBACK)
    missing, listed = parse_ldd(out)
    return _unique(missing + load_missing([s for s in DLOPENED if s not in listed]))


def gui_problem(environ: Mapping[str, str] | None = None, argv: Sequence[str] = ()) -> GuiProblem | None:
    """What would make Qt abort when it creates the QApplication here; None when nothing would
    (or when Qt will not use its xcb plugin)."""
    environ = os.environ if environ is None else environ
    if not uses_xcb(environ, argv):
        return None
    missing = tuple(missing_xcb_libraries())
    no_display = not (environ.get("DISPLAY") or _qt_arg(argv, "display"))
    if not missing and not no_display:
        return None
    return GuiProblem(missing=missing, no_display=no_display, wayland_display=bool(environ.get("WAYLAND_DISPLAY")))


def require_gui(argv: Sequence[str] = ()) -> None:
    """Call before creating the QApplication: print why the window cannot open and exit with
    :data:`EXIT_CODE`, instead of letting Qt abort."""
    global _passed
    if _passed:
        return
    problem = gui_problem(argv=argv)
    if problem is not None:
        print(problem.message(), file=sys.stderr, flush=True)
        raise SystemExit(EXIT_CODE)
    _passed = True


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    quiet = "--quiet" in argv
    argv = [a for a in argv if a != "--quiet"]
    problem = gui_problem(argv=argv)
    if problem is not None:
        print(problem.message(), file=sys.stderr)
        return EXIT_CODE
    if quiet:
        return 0
    if uses_xcb(argv=argv):
        print(f"OK: Qt's xcb plugin ({find_xcb_plugin() or 'not found, checked by soname'}) finds all its "
              f"libraries; DISPLAY={os.environ.get('DISPLAY') or _qt_arg(argv, 'display')}")
    else:
        print("OK: Qt will not use its xcb plugin here (QT_QPA_PLATFORM or a Wayland session); nothing to check")
    return 0


if __name__ == "__main__":
    sys.exit(main())
