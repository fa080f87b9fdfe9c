"""`bench/transfer.py --quick` end to end: every arm trained and probed, the table printed."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_transfer_benchmark(tmp_path):
    res = subprocess.run([sys.executable, str(ROOT / "bench" / "transfer.py"), "--quick",
                          "--out", str(tmp_path / "bench")], capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = [line for line in res.stdout.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| setting | task | random init | supervised (base) |"), res.stdout
    assert "mvnet: teacher − random" in rows[0] and "pointmcd: teacher − random" in rows[0]
    assert len(rows) == 1 + 9                                # the header, a row per task
    assert "shortcut gap, mvnet, teacher:" in res.stdout
    assert (tmp_path / "bench" / "benchmark.json").is_file()
