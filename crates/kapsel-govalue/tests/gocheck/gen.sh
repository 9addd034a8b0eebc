#!/bin/sh
# Regenerates ../data/vectors.json from real Go (test tooling for kapsel-govalue).
# Runs the generator twice with different heap layouts and keeps only the cases
# whose output does not depend on memory addresses.
set -eu
cd "$(dirname "$0")"
TZ= PAD=0 go run ./vectors > /tmp/kapsel-vectors-a.json
TZ= PAD=57 go run ./vectors > /tmp/kapsel-vectors-b.json
python3 - <<'PY'
a = open('/tmp/kapsel-vectors-a.json').read().split('\n')
b = open('/tmp/kapsel-vectors-b.json').read().split('\n')
assert len(a) == len(b)
out = []
for x, y in zip(a, b):
    if x == y:
        out.append(x)
    elif x.startswith('{"') and y.startswith('{"'):
        continue
    else:
        raise SystemExit('unexpected difference: ' + x)
# Fix trailing commas of the last kept line of each section.
fixed = []
for i, line in enumerate(out):
    nxt = out[i + 1] if i + 1 < len(out) else ''
    if line.startswith('{"') and nxt.startswith(']'):
        line = line.rstrip(',')
    elif line.startswith('{"') and not line.endswith(','):
        line = line + ','
    fixed.append(line)
open('../data/vectors.json', 'w').write('\n'.join(fixed))
PY
