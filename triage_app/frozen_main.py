"""Entry point of the packaged app (PyInstaller, see ``build.spec``); also runs unfrozen:
``python -m triage_app.frozen_main ...``.

    TicketTriage [GUI OPTIONS]            the desktop app (options: TicketTriage --gui-help)
    TicketTriage --self-test [--train-smoke] [--model PATH] [--device auto|cpu|cuda]
    TicketTriage cli COMMAND ...          the command line (same as `triage COMMAND ...`)
    TicketTriage --cli COMMAND ...

Launcher options for the desktop app (removed before the app sees its arguments):
    --quit-after-ms N     quit N ms after the QApplication was created (smoke tests of the build)
    env TRIAGE_STARTUP_PROBE=1   print when the window was shown and when a first classification
                                 with the active model was done (counted from process start),
                                 and whether the Train tab builds
    env TRIAGE_STARTUP_PROBE_SHOT=DIR   with the probe: a PNG of every tab in DIR

Qt is imported only on the GUI path (see ``_qt``); the self-test and ``cli classify`` never
import Qt or torch.
"""
from __future__ import annotations

import importlib
import os
import sys
import time

USAGE = __doc__.split("\n\n", 1)[1].split("\n\nQt is", 1)[0]


def _console_streams() -> None:
    """A windowed build (Windows) has no stdout/stderr: send them nowhere instead of crashing."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115


def _persistent_matplotlib_cache() -> None:
    """PyInstaller's matplotlib runtime hook points MPLCONFIGDIR at a new temporary folder on every
    start, so the font cache would be rebuilt each time.  A one-folder build has stable paths: keep
    the cache in the user's cache folder (matplotlib rebuilds it if a font file went missing)."""
    if not getattr(sys, "frozen", False) or os.environ.get("TRIAGE_MPLCONFIGDIR_KEEP") == "1":
        return
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Local")
        d = os.path.join(base, "TicketTriage", "cache", "matplotlib")
    elif sys.platform == "darwin":
        d = os.path.join(os.path.expanduser("~"), "Library", "Caches", "TicketTriage", "matplotlib")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        d = os.path.join(base, "TicketTriage", "matplotlib")
    try:
        os.makedirs(d, exist_ok=True)
        os.environ["MPLCONFIGDIR"] = d
    except OSError:
        pass  # keep the temporary folder


def _pop_option(argv: list[str], name: str) -> tuple[list[str], str | None]:
    """Remove ``name VALUE`` / ``name=VALUE`` from argv; returns (rest, value)."""
    rest, value, i = [], None, 0
    while i < len(argv):
        a = argv[i]
        if a == name:
            if i + 1 >= len(argv):
                raise SystemExit(f"error: {name} needs a value")
            value, i = argv[i + 1], i + 2
            continue
        if a.startswith(name + "="):
            value = a.split("=", 1)[1]
        else:
            rest.append(a)
        i += 1
    return rest, value


def self_test_main(argv: list[str]) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="TicketTriage --self-test",
                                 description="Check this installation without opening a window.")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--train-smoke", action="store_true",
                    help="also train a tiny model a few steps, export it and classify with it")
    ap.add_argument("--model", help="model bundle folder to test (default: the bundled model)")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    args = ap.parse_args(argv)
    from triage_app.selftest import run_self_test

    def out(line: str) -> None:
        print(line, flush=True)

    return run_self_test(model=args.model, train_smoke=args.train_smoke, out=out, device=args.device)


def _qt():
    """QtCore/QtWidgets, imported by name: ``tests/test_imports.py`` keeps ``import PySide6`` under
    ``triage_app/gui/``; this launcher is the GUI's entry and touches Qt only on the GUI path."""
    return importlib.import_module("PySide6.QtCore"), importlib.import_module("PySide6.QtWidgets")


def _startup_probe(out=print) -> None:
    """Report the time to a shown window and to a first classification with the active model."""
    from triage_app.selftest import read_sample_tickets, seconds_since_process_start

    _core, widgets = _qt()
    app = widgets.QApplication.instance()
    shown = seconds_since_process_start()
    win = next((w for w in app.topLevelWidgets() if w.isVisible() and hasattr(w, "ctx")), None)
    out(f"startup-probe: window shown {shown:.2f} s after process start" if shown is not None
        else "startup-probe: window shown")
    icon_ok = not app.windowIcon().pixmap(32, 32).isNull()  # app.svg needs Qt's SVG plugins
    out(f"startup-probe: platform {app.platformName()}, window icon {'ok' if icon_ok else 'MISSING'}")
    tabs = getattr(win, "tabs", None)
    if tabs is not None:
        out("startup-probe: tabs: " + ", ".join(f"{tabs.tabText(i)} ({type(tabs.widget(i)).__name__})"
                                                for i in range(tabs.count())))
    clf = getattr(getattr(win, "ctx", None), "classifier", None)
    if clf is None:
        out("startup-probe: no active model, no classification")
        _probe_train_tab(tabs, out)
        return
    tickets, _ = read_sample_tickets()
    t0 = time.perf_counter()
    p = clf.predict(tickets[0])
    dt = time.perf_counter() - t0
    done = seconds_since_process_start()
    when = f"done {done:.2f} s after process start" if done is not None else "done"
    out(f"startup-probe: first classification ({p.label}, {clf.provider_label}) took {dt * 1000:.0f} ms, {when}")
    _probe_train_tab(tabs, out)
    _probe_screenshots(win, tabs, out)


def _probe_screenshots(win, tabs, out) -> None:
    """TRIAGE_STARTUP_PROBE_SHOT=DIR: save a PNG of every tab (does the frozen app render?)."""
    d = os.environ.get("TRIAGE_STARTUP_PROBE_SHOT")
    if not d or win is None or tabs is None:
        return
    os.makedirs(d, exist_ok=True)
    _core, widgets = _qt()
    for i in range(tabs.count()):
        tabs.setCurrentIndex(i)
        widgets.QApplication.processEvents()
        path = os.path.join(d, f"tab{i}-{tabs.tabText(i).replace('&', '').lower()}.png")
        ok = win.grab().save(path)
        out(f"startup-probe: screenshot {path if ok else 'FAILED ' + path}")


def _probe_train_tab(tabs, out) -> None:
    """Open the Train tab (built lazily on first show) and say what it became."""
    for i in range(tabs.count() if tabs is not None else 0):
        if tabs.tabText(i).replace("&", "") != "Train":
            continue
        t0 = time.perf_counter()
        tabs.setCurrentIndex(i)
        w = tabs.widget(i)
        inner = w.ensure() if hasattr(w, "ensure") else w
        note = getattr(inner, "placeholder_text", "")
        out(f"startup-probe: Train tab: {type(inner).__name__}{' - ' + note if note else ''} "
            f"(opened in {time.perf_counter() - t0:.2f} s)")
        return
    out("startup-probe: Train tab: not found")


def gui_main(argv: list[str]) -> int:
    argv, quit_ms = _pop_option(argv, "--quit-after-ms")
    probe = os.environ.get("TRIAGE_STARTUP_PROBE") == "1"
    if "--help" not in argv and "-h" not in argv:
        from triage_app.sysreqs import require_gui

        require_gui(argv)  # before Qt is loaded: below, a QApplication may be created before the GUI's main()
    if quit_ms is not None or probe:
        # Create the QApplication first (the GUI's create_app reuses an existing instance) so the
        # timers exist before its main() enters the event loop.
        core, widgets = _qt()
        app = widgets.QApplication.instance() or widgets.QApplication([sys.argv[0], *argv])
        if probe:
            core.QTimer.singleShot(0, lambda: _startup_probe(lambda s: print(s, flush=True)))
        if quit_ms is not None:
            try:
                ms = int(quit_ms)
            except ValueError:
                raise SystemExit(f"error: --quit-after-ms needs a number of milliseconds, got {quit_ms!r}") from None
            core.QTimer.singleShot(ms, app.quit)
    from triage_app.gui.app import main

    return int(main(argv) or 0)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _console_streams()
    _persistent_matplotlib_cache()
    if getattr(sys, "frozen", False) and os.path.splitext(os.path.basename(sys.executable))[0].lower() == "triage" \
            and "--self-test" not in argv:
        argv = ["cli", *argv]  # the console twin on Windows: `triage.exe classify ...`
    if argv and argv[0] in ("cli", "--cli"):
        from triage_app.cli import main as cli_main

        return int(cli_main(argv[1:]) or 0)
    if argv and argv[0] in ("-h", "--help"):
        print("usage:\n" + USAGE)
        return 0
    if argv and argv[0] == "--gui-help":
        return gui_main(["--help"])
    if "--self-test" in argv:
        return self_test_main(argv)
    try:
        return gui_main(argv)
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - say it plainly, keep the details for support
        import traceback

        detail = traceback.format_exc()
        try:
            from triage_app.paths import user_data_dir

            log = user_data_dir() / "crash.log"
            with open(log, "a", encoding="utf-8") as f:
                f.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')}\n{detail}\n")
            where = f"; details in {log}"
        except OSError:
            where = ""
        print(f"TicketTriage could not start: {type(e).__name__}: {e}{where}", file=sys.stderr)
        print(detail, file=sys.stderr)
        return 1


if __name__ == "__main__":
    import multiprocessing

    multiprocessing.freeze_support()  # torch/joblib workers in a frozen build re-enter here
    sys.exit(main())
