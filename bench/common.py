"""Shared helpers of the benchmark scripts: data location, machine description, results files."""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
IT = DATA / "it_service_tickets" / "it_service_tickets.csv.gz"
ENDAVA = DATA / "endava_tickets_sample" / "endava_tickets_sample.csv.gz"
RESULTS = ROOT / "bench" / "results"

from triage_app.atomic import write_text_atomic  # noqa: E402  (needs ROOT on sys.path)


def require_data(path: Path) -> None:
    if not path.exists():
        sys.exit(f"{path}: not found; the benchmarks read the datasets from ../shared/data")


ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def machine() -> dict:
    import numpy as np

    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "python": platform.python_version(), "numpy": np.__version__, "platform": platform.platform()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    # the instruction sets int8 and bf16 speed depend on (AVX2 only: no VNNI, no bf16)
                    flags = set(line.split(":", 1)[1].split())
                    info["isa"] = [f for f in ISA_FLAGS if f in flags]
                    break
    except OSError:
        pass
    try:
        import onnxruntime
        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    try:
        import torch
        info["torch"] = torch.__version__
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        pass
    return info


def save(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "when": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), **payload}
    p = RESULTS / f"{name}.json"
    write_text_atomic(p, json.dumps(payload, indent=2, default=float))
    return p


def load_it(split: str | None = None):
    import pandas as pd

    require_data(IT)
    df = pd.read_csv(IT, dtype=str, keep_default_na=False)
    return df if split is None else df[df["split"] == split].reset_index(drop=True)


def peak_rss_of(cmd: list[str], env: dict | None = None, timeline: list | None = None,
                every_s: float = 5.0) -> tuple[float, float, int]:
    """Run ``cmd``; return (peak RSS in MB of the process tree, wall seconds, exit code).
    With ``timeline`` (a list), append ``(seconds, rss_mb)`` about every ``every_s`` seconds."""
    import subprocess

    import psutil

    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    proc = psutil.Process(p.pid)
    peak, last = 0, -every_s
    while p.poll() is None:
        try:
            rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
            peak = max(peak, rss)
            now = time.perf_counter() - t0
            if timeline is not None and now - last >= every_s:
                timeline.append((round(now, 1), round(rss / 2**20, 1)))
                last = now
        except psutil.Error:
            pass
        time.sleep(0.05)
    return peak / 2**20, time.perf_counter() - t0, p.returncode
