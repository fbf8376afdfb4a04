"""Time from starting a terminal program to its first screen showing MARKER, in a real
terminal (a detached tmux session of 120x40), polled every 20 ms.

    python3 first_frame.py MARKER TIMEOUT_S CMD [ARGS...]     prints seconds, or fails
"""
import os
import subprocess
import sys
import time


def main():
    marker, timeout = sys.argv[1], float(sys.argv[2])
    cmd = sys.argv[3:]
    session = f"first-frame-{os.getpid()}"
    start = time.monotonic()
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", *cmd],
        check=True,
    )
    try:
        while time.monotonic() - start < timeout:
            screen = subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session],
                capture_output=True,
                text=True,
            ).stdout
            if marker in screen:
                print(f"{time.monotonic() - start:.3f}")
                return 0
            time.sleep(0.02)
        print(f"no '{marker}' on screen after {timeout} s", file=sys.stderr)
        return 1
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
