"""Wall time and peak memory of `p2ikit demo` (targets: <= 10 minutes and 4 GB on 2 CPU cores)."""
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__":
    exe = Path(sys.executable).parent / "p2ikit"
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = subprocess.run([str(exe), "demo", "--out-dir", tmp],
                             env={**os.environ, "HF_HUB_OFFLINE": "1"},
                             capture_output=True, text=True)
        elapsed = time.perf_counter() - t0
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if res.returncode != 0:
        print(res.stderr[-3000:])
        sys.exit(res.returncode)
    lines = [line for line in res.stdout.splitlines() if line.startswith(("|", "RenderNet"))]
    print("\n".join(lines))
    print(f"p2ikit demo: {elapsed / 60:.1f} min wall, peak RSS {peak_mb:.0f} MB "
          f"(targets: <= 10 min, <= 4096 MB) on {os.cpu_count()} CPUs")
