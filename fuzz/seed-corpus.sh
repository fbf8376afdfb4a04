#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the fixtures: text inputs cut into pieces of a few
# hundred lines (libFuzzer mutates small inputs faster), binary inputs written by the
# synthetic writers. Run from the repository root; cmin the corpora afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
c=fuzz/corpus
mkdir -p "$c"/{windbg_log,tracefmt,tracerpt,wpa,perfview,winevent,xperf,mapped_csv}

pieces() { # FILE TARGET LINES: cut FILE into LINES-line pieces
    split -l "$3" -d -a 3 "$1" "$c/$2/$(basename "$(dirname "$1")")-$(basename "$1")-"
}
for log in fixtures/cases/*/memory.log; do pieces "$log" windbg_log 150; done
pieces fixtures/cases/cs-periodic-error/trace.txt tracefmt 40
cp fixtures/traces/tracefmt-custom.txt "$c/tracefmt/"
printf '#    PID  TID  Time         Message\n1972 2780 5992 10:05:11.005 Error: disk\n[...]\n4513 2780 3292 10:05:17.661 Error: disk\n' >"$c/tracefmt/table.txt"
cp fixtures/traces/tracerpt.csv "$c/tracerpt/"
cp fixtures/traces/wpa.csv "$c/wpa/"
cp fixtures/traces/perfview.csv fixtures/traces/perfview-semicolon.csv "$c/perfview/"
cp fixtures/traces/winevent.csv "$c/winevent/"
cp fixtures/traces/xperf-dumper.txt "$c/xperf/"
cp fixtures/traces/mapped.csv "$c/mapped_csv/"
cargo run --quiet -p dumptrace-bench --bin gen-fuzz-seeds -- "$c"
