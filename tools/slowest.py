"""Pass `nbdev_test --timing` output through, but print only the N slowest notebooks (default 15).

    nbdev_test --timing ... | python tools/slowest.py [N]

nbdev prints one "name.ipynb: S secs" line per notebook, slowest first, after "Success."; every
other line is passed through as it comes. The test run's exit status is kept by pipefail.
"""
import re
import sys

TIMING = re.compile(r"^(\S+\.ipynb): (\d+) secs$")


def main(n: int = 15) -> None:
    times = []
    for line in sys.stdin:
        m = TIMING.match(line.strip())
        if m:
            times.append((int(m.group(2)), m.group(1)))
        else:
            print(line, end="", flush=True)
    if times:
        times.sort(reverse=True)
        print(f"the {min(n, len(times))} slowest of {len(times)} notebooks "
              f"(the sum {sum(t for t, _ in times)} s, over the workers):")
        for t, name in times[:n]:
            print(f"{t:6d} s  {name}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
