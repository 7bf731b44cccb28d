"""One job of a kind per machine (e.g. one training), across processes, via an OS file lock.

The lock is released by the OS when its holder dies, so a killed holder leaves no stale lock.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from triage_app import paths
from triage_app.errors import TriageError


class JobBusy(TriageError, RuntimeError):
    """Another process holds the lock; the message names it."""


class JobLock:
    def __init__(self, name: str, folder: str | os.PathLike | None = None):
        self.name = name
        d = Path(folder) if folder else paths.user_data_dir() / "locks"
        d.mkdir(parents=True, exist_ok=True)
        self.path = d / f"{name}.lock"
        self._fh = None

    def holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8") or "null")
        except (OSError, ValueError):
            return None

    def acquire(self, what: str | None = None) -> "JobLock":
        fh = open(self.path, "a+", encoding="utf-8")
        try:
            if sys.platform == "win32":
                import msvcrt
                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            h = self.holder() or {}
            who = f"process {h.get('pid', '?')} ({h.get('what', 'unknown')}, since {h.get('since', '?')})"
            raise JobBusy(f"another {self.name} job is running on this machine: {who}; "
                          f"wait for it or cancel it first") from None
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "what": what or " ".join(sys.argv[:2]) or "python",
                             "since": time.strftime("%Y-%m-%d %H:%M:%S")}))
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is None:
            return
        try:
            self._fh.seek(0)
            self._fh.truncate()
            self._fh.flush()
            if sys.platform == "win32":
                import msvcrt
                self._fh.seek(0)
                msvcrt.locking(self._fh.fileno(), msvcrt.LK_UNLCK, 1)
            else:
                import fcntl
                fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
        finally:
            self._fh.close()
            self._fh = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
