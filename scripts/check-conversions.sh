#!/usr/bin/env bash
# Fails on a trapping conversion in Sources/ that does not say why it cannot trap (docs/architecture.md,
# "Values from outside never trap"). `Int64(x)` traps when x is out of range (a UInt64 ≥ 2^63; a Double that
# is huge, infinite or NaN) and `String(repeating:count:)` on a negative count. Each such line uses a total
# form — `exactly:` (nil when out of range), `clamping:` (also for Doubles, WardenCore's Clamping.swift),
# `truncatingIfNeeded:`, `bitPattern:` — or follows a `// total: <why>` comment: a string parse (failable),
# a widening, the bound checked before. The comment covers the statement below it: the next line and the
# lines after it that are indented deeper (continuations, and the body of a block it opens). Literals
# (`UInt64(1)`, `UInt8(ascii: "a")`) need nothing. Database rows are read with a throwing decode (below).
set -euo pipefail
cd "$(dirname "$0")/.."

total_forms='(U?Int(8|16|32|64)?|Double|Float)\((exactly|clamping|truncatingIfNeeded|bitPattern|ascii|littleEndian|bigEndian):|(U?Int(8|16|32|64)?)\([0-9"]'
candidate='(^|[^A-Za-z0-9_])(U?Int(8|16|32|64)?)\(|(String|Array)\(repeating:'

status=0
while IFS= read -r file; do
  awk -v file="$file" -v total_forms="$total_forms" -v candidate="$candidate" '
    function indent(text) { return match(text, /[^ ]/) ? RSTART - 1 : 1000 }
    {
      line = $0
      if (line ~ /^[[:space:]]*\/\/ total:/) { covering = 1; coverIndent = indent(line); first = 1; next }
      if (covering && !first && indent(line) <= coverIndent) covering = 0
      first = 0
      stripped = line
      gsub(total_forms, "", stripped)
      sub(/\/\/.*/, "", stripped)
      if (stripped ~ candidate && !covering && line !~ /\/\/ total:/) {
        printf "%s:%d: a conversion that can trap, without a total form or a `// total:` reason:\n    %s\n", file, NR, line
        found = 1
      }
    }
    END { exit found }
  ' "$file" || status=1
done < <(git ls-files 'Sources/*.swift')

# A database row is input too (a file someone may have edited): GRDB's `row["column"]` traps when the value
# does not convert, `try row.decode(forColumn:)` throws (the read then fails with store.unavailable).
if git grep -nE '(\$0|\b[A-Za-z]+)\["[a-z_]+"\]' -- 'Sources/WardenStore/*.swift'; then
  echo "Read database rows with try row.decode(forColumn:), not the trapping subscript." >&2
  status=1
fi
exit $status
