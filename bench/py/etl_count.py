"""Reads an .etl file with the pure-Python `etl-parser` package (PyPI) and counts the
records it decodes, by kind: the peer of `dumptrace trace` on binary ETW logs.

    python3 etl_count.py FILE
"""
import sys

from etl.etl import IEtlFileObserver, build_from_stream


class Counter(IEtlFileObserver):
    def __init__(self):
        self.counts = {}

    def _count(self, kind):
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def on_event_record(self, event):
        self._count("event")

    def on_trace_record(self, event):
        self._count("trace")

    def on_system_trace(self, event):
        self._count("system")

    def on_perfinfo_trace(self, event):
        self._count("perfinfo")

    def on_win_trace(self, event):
        self._count("win")


def main(path):
    with open(path, "rb") as f:
        reader = build_from_stream(f.read())
    counter = Counter()
    reader.parse(counter)
    print(sum(counter.counts.values()), counter.counts)


if __name__ == "__main__":
    main(sys.argv[1])
