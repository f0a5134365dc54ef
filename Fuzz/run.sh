#!/usr/bin/env bash
# Runs fuzz targets one after another, each for its time, from its seed corpus, and prints a row per target
# for README.md's table (executions, corpus, edges covered, findings). Build first (see README.md).
# Usage: ./run.sh SECONDS TARGET:CORPUS...   e.g. ./run.sh 600 SASTokenFuzzer:sas JSONFuzzer:json
set -uo pipefail
cd "$(dirname "$0")"
seconds=$1
shift
mkdir -p logs
for pair in "$@"; do
  target=${pair%%:*}
  corpus=${pair##*:}
  mkdir -p ".corpus/$corpus" "findings/$target"
  cp -n "Corpus/$corpus/"* ".corpus/$corpus/" 2>/dev/null
  ".build/release/$target" ".corpus/$corpus" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
    -artifact_prefix="findings/$target/" >"logs/$target.log" 2>&1
  status=$?
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "logs/$target.log" | grep -o '[0-9]*$')
  line=$(grep -E '^#[0-9]+.*(DONE|cov:)' "logs/$target.log" | tail -1)
  cov=$(echo "$line" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*')
  corp=$(echo "$line" | grep -o 'corp: [0-9]*' | grep -o '[0-9]*')
  found=$(ls "findings/$target" | wc -l)
  echo "| $(date +%F) | $target | ${seconds} s | ${runs:-?} | ${corp:-?} units, ${cov:-?} edges | exit $status, $found findings |"
done
