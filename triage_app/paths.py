"""Where things live: bundled resources (also inside a PyInstaller build) and the user data folder."""
from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "TicketTriage"
DEFAULT_MODEL_NAME = "it-service-minilm"


def project_root() -> Path:
    if getattr(sys, "frozen", False):
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))
    return Path(__file__).resolve().parent.parent


def resource_path(*parts: str) -> Path:
    return project_root().joinpath("resources", *parts)


def bundled_models_dir() -> Path:
    return resource_path("models")


def default_model_dir() -> Path:
    """The bundled default model (``TRIAGE_DEFAULT_MODEL`` overrides, e.g. in tests)."""
    env = os.environ.get("TRIAGE_DEFAULT_MODEL")
    if env:
        return Path(env)
    return bundled_models_dir() / DEFAULT_MODEL_NAME


def sample_tickets_path() -> Path:
    return resource_path("samples", "sample_tickets.csv")


def user_data_dir() -> Path:
    """Per-user data folder (same place Qt's QStandardPaths.AppDataLocation uses)."""
    env = os.environ.get("TRIAGE_DATA_DIR")
    if env:
        p = Path(env)
    elif sys.platform == "win32":
        p = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming")) / APP_NAME
    elif sys.platform == "darwin":
        p = Path.home() / "Library" / "Application Support" / APP_NAME
    else:
        p = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / APP_NAME
    p.mkdir(parents=True, exist_ok=True)
    return p


def user_models_dir() -> Path:
    p = user_data_dir() / "models"
    p.mkdir(parents=True, exist_ok=True)
    return p
