"""What the benches share: timing several calls side by side, so a busy machine slows them alike."""
import statistics
import time


def alternate(fns: dict, repeats: int = 5) -> dict:
    "Median ms of each of `fns` (name -> call), timed in turn so the load hits them alike."
    for fn in fns.values():
        fn()  # warm-up
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t) * 1e3)
    return {name: statistics.median(ts) for name, ts in times.items()}
