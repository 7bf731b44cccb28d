"""Entry point of the desktop app: ``python -m triage_app.gui.app [--model PATH] [--dark|--light]``.

Qt is imported only inside the functions, after :func:`triage_app.sysreqs.require_gui` has
checked the system libraries: importing ``PySide6.QtGui`` itself fails on a machine without them,
and the check must get to say which ones are missing and how to install them first."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from triage_app import paths, sysreqs

if TYPE_CHECKING:
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

log = logging.getLogger("triage.gui")


def app_icon() -> QIcon:
    from PySide6.QtGui import QIcon

    icon = QIcon()
    for name in ("app.svg", "app-256.png", "app-64.png", "app-32.png"):
        p = paths.resource_path("icons", name)
        if p.is_file():
            icon.addFile(str(p))
    return icon


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="tickettriage", description="TicketTriage desktop app")
    ap.add_argument("--model", help="model bundle folder to activate instead of the built-in one")
    theme = ap.add_mutually_exclusive_group()
    theme.add_argument("--dark", action="store_true", help="dark palette")
    theme.add_argument("--light", action="store_true", help="light palette")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="where inference runs")
    ap.add_argument("--settings", help="INI file for settings (default: the user's settings)")
    return ap.parse_known_args(argv)


def create_app(qt_args: list[str], theme: str | None = None) -> QApplication:
    from PySide6.QtWidgets import QApplication

    from triage_app.gui.style import apply_theme

    app = QApplication.instance() or QApplication(qt_args)
    app.setApplicationName("TicketTriage")
    app.setOrganizationName("TicketTriage")
    app.setApplicationDisplayName("TicketTriage")
    app.setWindowIcon(app_icon())
    apply_theme(app, theme)
    return app


def activate_startup_model(ctx, model: str | None) -> str | None:
    """Activate ``model`` (or the built-in default); return a banner message when none could be."""
    from triage_app.bundle import BundleError

    candidates = [Path(model)] if model else [paths.default_model_dir()]
    last = ctx.settings.value("models/last_active", "")
    if not model and last and Path(last).is_dir():
        candidates.insert(0, Path(last))
    errors = []
    for c in candidates:
        if not c.exists():
            errors.append(f"{c}: not found")
            continue
        try:
            ctx.activate(c)
            return None
        except (BundleError, OSError, ValueError) as e:
            errors.append(str(e))
    if model:
        return f"The model {model} could not be loaded ({errors[-1]}). No model — import one in Models."
    detail = f" ({errors[-1]})" if errors and "not found" not in errors[-1] else ""
    return f"No model — import one in Models.{detail}"


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args, qt_rest = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    theme = "dark" if args.dark else "light" if args.light else None
    sysreqs.require_gui(qt_rest)  # missing X11 libraries: a clear message and exit 2, not Qt's abort
    app = create_app([sys.argv[0] if sys.argv else "tickettriage", *qt_rest], theme)

    from PySide6.QtCore import QSettings

    from triage_app.gui.context import AppContext
    from triage_app.gui.main_window import MainWindow

    settings = QSettings(args.settings, QSettings.Format.IniFormat) if args.settings else None
    ctx = AppContext(settings=settings, device=args.device)
    banner = activate_startup_model(ctx, args.model)
    win = MainWindow(ctx)
    if banner:
        win.banner.show_message(banner)
    win.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
