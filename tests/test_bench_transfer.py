"""`bench/transfer.py --quick` end to end, one recipe: its arms trained and probed, the tables
printed. (nbs/11c_benchmark runs the whole quick benchmark, both recipes, and checks it.)"""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_transfer_benchmark(tmp_path):
    cmd = [sys.executable, str(ROOT / "bench" / "transfer.py"), "--quick", "--recipes", "mvnet",
           "--out", str(tmp_path / "bench")]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    first, _, parts = res.stdout.partition("part segmentation, synthetic parts")
    rows = [line for line in first.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| setting | task | random init | supervised (base) |"), res.stdout
    assert "mvnet: teacher − random" in rows[0] and "pointmcd" not in rows[0]
    assert len(rows) == 1 + 9                                # the header, a row per task
    assert "shortcut gap, mvnet, teacher:" in res.stdout
    assert (tmp_path / "bench" / "benchmark.json").is_file()
    part_rows = [line for line in parts.splitlines() if line.startswith("| ")]
    assert part_rows[0].startswith("| arm | protocol | instance mIoU | class mIoU |"), res.stdout
    assert len(part_rows) == 1 + 4 * 2 + 1 + 2              # arms x protocols, bound, differences
    assert any("supervised parts (upper bound) | full fine-tuning" in r for r in part_rows)
