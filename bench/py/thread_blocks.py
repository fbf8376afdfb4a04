"""What engineers write today to mine a `!process 0 ff` log: a line-by-line regex parser
of THREAD blocks (thread address, Cid, state, wait reason, Ticks, stack frames).

    python3 thread_blocks.py LOG      prints the number of THREAD blocks and frames
"""
import re
import sys

THREAD = re.compile(
    r"^\s*THREAD\s+([0-9a-f`]+)\s+Cid\s+([0-9a-f]+)\.([0-9a-f]+)\s+Teb:\s+([0-9a-f`]+)"
    r"\s+Win32Thread:\s+([0-9a-f`]+)\s+(\w+)(?::\s*\((\w+)\))?",
    re.I,
)
TICKS = re.compile(r"Ticks:\s+(\d+)")
FRAME = re.compile(r"^\s*([0-9a-f`]{8,17})\s+([0-9a-f`]{8,17})\s+(.*)$", re.I)


def main(path):
    threads = []
    current = None
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        for line in f:
            m = THREAD.match(line)
            if m:
                current = {
                    "address": m.group(1),
                    "pid": int(m.group(2), 16),
                    "tid": int(m.group(3), 16),
                    "state": m.group(6),
                    "reason": m.group(7),
                    "ticks": None,
                    "frames": [],
                }
                threads.append(current)
                continue
            if current is None:
                continue
            t = TICKS.search(line)
            if t:
                current["ticks"] = int(t.group(1))
                continue
            fr = FRAME.match(line)
            if fr:
                current["frames"].append(fr.group(3))
    print(len(threads), sum(len(t["frames"]) for t in threads))


if __name__ == "__main__":
    main(sys.argv[1])
