#!/usr/bin/env bash
# Rebuilds the Go template oracle and regenerates testdata/goldens/ from
# testdata/golden-matrix.txt. Needs Go (the oracle's modules come from the
# Go module proxy) and the Kanister example Blueprints.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
examples="${KANISTER_EXAMPLES:-/work/shared/kanister-examples}"
oracle="$root/tools/template-oracle/template-oracle"

(cd "$root/tools/template-oracle" && go build -o template-oracle . && TZ=UTC go test ./...)

# sprig's date functions format in the local time zone; Kanister's
# controller runs with TZ unset (UTC) in its container.
export TZ=UTC

# Every Blueprint under the examples root must be listed in the matrix.
missing=0
while IFS= read -r bp; do
  rel="${bp#"$examples"/}"
  if ! grep -q "^$rel " "$root/testdata/golden-matrix.txt"; then
    echo "regen-goldens: $rel is not in testdata/golden-matrix.txt" >&2
    missing=1
  fi
done < <(grep -rlE '^kind: *Blueprint' "$examples" --include='*.yaml' | sort)
[ "$missing" = 0 ] || exit 1

out="$root/testdata/goldens"
rm -f "$out"/*.json
count=0
while read -r rel stems; do
  case "$rel" in ''|'#'*) continue ;; esac
  dir="$(dirname "$rel")"
  stem="$(basename "$rel" .yaml)"
  for p in $stems; do
    golden="$out/${dir//\//-}__${stem}__${p}.json"
    "$oracle" blueprint --blueprint "$examples/$rel" --params "$root/testdata/params/$p.json" > "$golden"
    count=$((count + 1))
  done
done < "$root/testdata/golden-matrix.txt"
# Blueprints kept in this repository (paths relative to the repository root).
while read -r rel stems; do
  case "$rel" in ''|'#'*) continue ;; esac
  dir="$(dirname "$rel")"
  stem="$(basename "$rel" .yaml)"
  for p in $stems; do
    golden="$out/${dir//\//-}__${stem}__${p}.json"
    "$oracle" blueprint --blueprint "$root/$rel" --params "$root/testdata/params/$p.json" > "$golden"
    count=$((count + 1))
  done
done < "$root/testdata/golden-matrix-local.txt"
echo "regen-goldens: wrote $count goldens to $out"
