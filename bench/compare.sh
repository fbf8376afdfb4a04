#!/usr/bin/env bash
# Runs dumptrace side by side with the tools an engineer would otherwise use, on the same
# generated inputs (fixed seeds), and writes BENCHMARKS.md: throughput, wall time and peak
# memory, each as a ratio against the peer measured in the same run.
#
#   bench/compare.sh [OUT.md]         default BENCHMARKS.md at the repository root
#
# Environment: BENCH_DIR (inputs and results, default /tmp/dumptrace-bench; needs about
# 8 GB), LOG_SIZE (default 1G), TRACE_SIZE (2G), CSV_SIZE (2G), ETL_MB (3072),
# ETL_PEER_MB (the file both ETL readers get, default 16: the pure-Python peer reads
# about 0.5 MB/s), ROUNDS (default 3).
#
# Shared virtual machines change speed by a third within minutes, so every tool runs once
# per round, all tools in each round one after the other, and the table gives each tool's
# median over the rounds and each ratio from the medians, with the ratios of single rounds
# beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${1:-$ROOT/BENCHMARKS.md}
DIR=${BENCH_DIR:-/tmp/dumptrace-bench}
LOG_SIZE=${LOG_SIZE:-1G}
TRACE_SIZE=${TRACE_SIZE:-2G}
CSV_SIZE=${CSV_SIZE:-2G}
ETL_MB=${ETL_MB:-3072}
ETL_PEER_MB=${ETL_PEER_MB:-16}
ROUNDS=${ROUNDS:-3}
mkdir -p "$DIR"

echo "== tools (from Debian's packages and PyPI)"
missing=()
command -v rg >/dev/null || missing+=(ripgrep)
command -v lnav >/dev/null || missing+=(lnav)
command -v tmux >/dev/null || missing+=(tmux)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${missing[@]}"
fi
python3 -c 'import duckdb' 2>/dev/null || python3 -m pip install --quiet duckdb
python3 -c 'import etl.etl' 2>/dev/null || python3 -m pip install --quiet etl-parser

echo "== build"
cargo build --release --quiet -p dumptrace -p dumptrace-bench
BIN=$ROOT/target/release
[ -n "${CARGO_TARGET_DIR:-}" ] && BIN=$CARGO_TARGET_DIR/release

echo "== inputs in $DIR"
[ -s "$DIR/process.log" ] || "$BIN/gen-windbg" "$DIR/process.log" "$LOG_SIZE" 1
[ -s "$DIR/tracefmt.txt" ] || "$BIN/gen-tracefmt" "$DIR/tracefmt.txt" "$TRACE_SIZE" 1
[ -s "$DIR/tracerpt.csv" ] || "$BIN/gen-tracerpt-csv" "$DIR/tracerpt.csv" "$CSV_SIZE" 1
[ -s "$DIR/big.etl" ] || "$BIN/gen-etl" "$DIR/big.etl" "$ETL_MB" 1
[ -s "$DIR/peer.etl" ] || "$BIN/gen-etl" "$DIR/peer.etl" "$ETL_PEER_MB" 1

RESULTS=$DIR/results.tsv
printf 'group\ttool\tinput\tbytes\twall_s\tpeak_kb\trecords\tpeer\tround\n' > "$RESULTS"
rm -f "$RESULTS.more"

# measure GROUP TOOL INPUT_FILE PEER -- COMMAND...: wall time and peak RSS by GNU time;
# the command's first number on stdout is taken as its record count.
measure() {
    local group=$1 tool=$2 input=$3 peer=$4
    shift 5
    local t=$DIR/time.txt o=$DIR/out.txt
    # Every tool starts from a file in the page cache: a read from disk would time the disk,
    # and the inputs together (8 GB) do not all stay cached across the run.
    cat "$input" > /dev/null
    /usr/bin/time -f '%e %M' -o "$t" "$@" > "$o" 2>"$DIR/err.txt" || {
        echo "failed (no row written): $*" >&2
        tail -5 "$DIR/err.txt" >&2
        return 0
    }
    local wall peak records
    read -r wall peak < "$t"
    # bench binaries print `records=N`; other tools print their count first.
    records=$(grep -oE 'records=[0-9]+' "$o" | head -1 | cut -d= -f2 || true)
    [ -n "$records" ] || records=$(grep -oE '[0-9]+' "$o" | head -1 || true)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$group" "$tool" "$(basename "$input")" \
        "$(stat -c %s "$input")" "$wall" "$peak" "${records:-}" "$peer" "$ROUND" >> "$RESULTS"
    printf '  %-34s %8s s %8s KB  %s\n' "$tool" "$wall" "$peak" "${records:-}"
}

# again GROUP TOOL PEER: copies TOOL's rows as compared with PEER too (one measurement,
# two peers; the table gives each pair its own row).
again() {
    local group=$1 tool=$2 peer=$3
    awk -F'\t' -v g="$group" -v t="$tool" -v p="$peer" 'BEGIN{OFS="\t"}
        $1==g && $2==t && $8!=p {$8=p; print}' "$RESULTS" >> "$RESULTS.more"
}

# frame TOOL PEER MARKER -- COMMAND...: seconds until MARKER is on a 120x40 tmux screen.
frame() {
    local tool=$1 peer=$2 marker=$3
    shift 4
    local s
    cat "$DIR/tracefmt.txt" > /dev/null
    s=$(python3 bench/py/first_frame.py "$marker" 600 "$@")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$G" "$tool" "$(basename "$DIR/tracefmt.txt")" \
        "$(stat -c %s "$DIR/tracefmt.txt")" "$s" 0 "" "$peer" "$ROUND" >> "$RESULTS"
    printf '  %-34s %8s s\n' "$tool" "$s"
}

# The timed run writes the JSON to /dev/null (a counter in the pipe would share the second
# core); the thread count printed with it is taken from an untimed run of the same command.
THREADS=$("$BIN/dumptrace" dump --json "$DIR/process.log" | tr , '\n' | grep -c '^"tid":')
CORES=$(nproc)

one_round() {
    G="WinDbg log: !process 0 ff, $LOG_SIZE"
    echo "== $G"
    measure "$G" "rg -c THREAD (scan)" "$DIR/process.log" "" -- rg -c '^\s*THREAD ' "$DIR/process.log"
    measure "$G" "python regex parser" "$DIR/process.log" "" -- python3 bench/py/thread_blocks.py "$DIR/process.log"
    measure "$G" "dumptrace dump --json" "$DIR/process.log" "rg -c THREAD (scan)" -- \
        sh -c "'$BIN/dumptrace' dump --json '$DIR/process.log' > /dev/null && echo $THREADS"
    measure "$G" "bench-windbg (parse only, one thread)" "$DIR/process.log" "rg -c THREAD (scan)" -- "$BIN/bench-windbg" "$DIR/process.log"
    measure "$G" "bench-windbg --threads $CORES (parse only)" "$DIR/process.log" "rg -c THREAD (scan)" -- \
        "$BIN/bench-windbg" "$DIR/process.log" --threads "$CORES"

    G="Tracefmt text, $TRACE_SIZE"
    echo "== $G"
    measure "$G" "bench-trace (load only)" "$DIR/tracefmt.txt" "" -- "$BIN/bench-trace" "$DIR/tracefmt.txt"
    measure "$G" "dumptrace trace (load + summary)" "$DIR/tracefmt.txt" "" -- \
        "$BIN/dumptrace" trace --trace-date 2024-01-13 --trace-tz UTC "$DIR/tracefmt.txt"

    G="tracerpt -of CSV, $CSV_SIZE"
    echo "== $G"
    measure "$G" "DuckDB read_csv count(*)" "$DIR/tracerpt.csv" "" -- python3 -c \
        "import duckdb,sys; duckdb.sql('SET enable_progress_bar=false'); print(duckdb.sql(\"select count(*) from read_csv('$DIR/tracerpt.csv', null_padding=true, ignore_errors=true)\").fetchall()[0][0])"
    # The count reads the file but holds none of it; an engineer who queries the trace
    # loads it into a table first, which is what dumptrace's frame is.
    measure "$G" "DuckDB read_csv into a table" "$DIR/tracerpt.csv" "" -- python3 -c \
        "import duckdb; duckdb.sql('SET enable_progress_bar=false'); duckdb.sql(\"create table t as select * from read_csv('$DIR/tracerpt.csv', null_padding=true, ignore_errors=true)\"); print(duckdb.sql('select count(*) from t').fetchall()[0][0])"
    measure "$G" "polars read_csv (Rust)" "$DIR/tracerpt.csv" "" -- "$BIN/bench-trace" "$DIR/tracerpt.csv" --polars
    measure "$G" "bench-trace (load only)" "$DIR/tracerpt.csv" "DuckDB read_csv count(*)" -- "$BIN/bench-trace" "$DIR/tracerpt.csv"
    measure "$G" "dumptrace trace (load + summary)" "$DIR/tracerpt.csv" "DuckDB read_csv count(*)" -- \
        "$BIN/dumptrace" trace "$DIR/tracerpt.csv"

    G="ETL"
    echo "== $G"
    measure "$G" "etl-parser (Python)" "$DIR/peer.etl" "" -- python3 bench/py/etl_count.py "$DIR/peer.etl"
    measure "$G" "dumptrace trace" "$DIR/peer.etl" "etl-parser (Python)" -- "$BIN/dumptrace" trace "$DIR/peer.etl"
    measure "$G" "bench-etl (load only)" "$DIR/big.etl" "" -- "$BIN/bench-etl" "$DIR/big.etl"

    G="TUI: start to first frame, Tracefmt $TRACE_SIZE"
    echo "== $G"
    frame "lnav" "" "DbClient" -- lnav "$DIR/tracefmt.txt"
    frame "dumptrace tui" "lnav" "Findings" -- \
        "$BIN/dumptrace" tui --trace-date 2024-01-13 --trace-tz UTC "$DIR/tracefmt.txt"
}

for ROUND in $(seq "$ROUNDS"); do
    echo "== round $ROUND of $ROUNDS"
    one_round
done
# Rows measured once and compared with two peers.
again "WinDbg log: !process 0 ff, $LOG_SIZE" "dumptrace dump --json" "python regex parser"
again "tracerpt -of CSV, $CSV_SIZE" "bench-trace (load only)" "polars read_csv (Rust)"
again "tracerpt -of CSV, $CSV_SIZE" "bench-trace (load only)" "DuckDB read_csv into a table"
again "tracerpt -of CSV, $CSV_SIZE" "dumptrace trace (load + summary)" "DuckDB read_csv into a table"

[ -s "$RESULTS.more" ] && cat "$RESULTS.more" >> "$RESULTS" && rm -f "$RESULTS.more"
# Fresh memory is where every reader writes its output; some virtual machines back it
# lazily and make its first touch slower than the parsing (see bench-memory.rs).
MEMORY=$("$BIN/bench-memory" 1024)
NOTE="Machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; fresh memory: ${MEMORY}; $(date -u +%Y-%m-%d)."
python3 bench/py/table.py "$RESULTS" "$NOTE" > "$OUT"
echo "wrote $OUT"
