#!/usr/bin/env bash
# Keeps a minimised corpus small enough for the repository: `cap-corpus.sh MERGED TARGET`
# copies the smallest files of MERGED (a `-merge=1` output) into fuzz/corpus/TARGET until
# they add up to 300 KB (the smallest inputs that keep the coverage libFuzzer kept).
set -euo pipefail
cd "$(dirname "$0")/.."
merged=$1 target=$2 cap=$((300 * 1024)) total=0
rm -rf "fuzz/corpus/$target" && mkdir -p "fuzz/corpus/$target"
while read -r size file; do
    total=$((total + size))
    [ "$total" -gt "$cap" ] && break
    cp "$merged/$file" "fuzz/corpus/$target/"
done < <(cd "$merged" && find . -type f -printf '%s %P\n' | sort -n)
