"""One training per machine across processes; a killed holder leaves no stale lock."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from triage_app.joblock import JobBusy, JobLock


def test_second_holder_refused_with_name(tmp_path):
    a = JobLock("train", tmp_path).acquire("GUI training")
    with pytest.raises(JobBusy, match="GUI training"):
        JobLock("train", tmp_path).acquire()
    a.release()
    JobLock("train", tmp_path).acquire().release()


def test_other_process_holds_then_killed(tmp_path):
    code = ("import sys, time; sys.path.insert(0, '.');"
            "from triage_app.joblock import JobLock;"
            f"lk = JobLock('train', {str(tmp_path)!r}).acquire('cli train'); print('held', flush=True); time.sleep(60)")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        with pytest.raises(JobBusy, match="cli train"):
            JobLock("train", tmp_path).acquire()
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    time.sleep(0.05)
    JobLock("train", tmp_path).acquire().release()
