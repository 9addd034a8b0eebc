#!/usr/bin/env bash
# Benchmark (never run by CI): see bench/README.md. Extra arguments go to kbench.py, e.g. --quick.
exec python3 "$(dirname "$0")/kbench.py" datamover "$@"
