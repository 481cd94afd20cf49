#!/usr/bin/env bash
# CI job (issue 6): build fastrnn's Cython kernels with bounds checking on
# (FASTRNN_BOUNDSCHECK=1: boundscheck, wraparound and initializedcheck, see setup.py) into
# a fresh virtual environment, check that the checks really are compiled in, and run a
# fast subset of the tests.  An out-of-bounds access in a kernel then raises IndexError
# instead of silently reading or writing past a buffer.
#
#   .ci/boundscheck.sh                 # the default subset
#   .ci/boundscheck.sh tests/test_x.py # other pytest arguments instead of the subset
#
# The build starts from a clean copy of the sources (tracked and untracked files that git
# does not ignore), so generated C files of a normal build are never reused: Cython does
# not notice that the directives changed.  KEEP=1 keeps the temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PYTHON=${PYTHON:-python3}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fastrnn-boundscheck.XXXXXX")
cleanup() { if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi; }
trap cleanup EXIT
SRC="$WORK/src-copy"
VENV="$WORK/venv"
mkdir -p "$SRC"

echo "== clean copy of the sources in $SRC"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z -co --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        tar --null -T - -cf - | tar -xf - -C "$SRC"
else
    tar --exclude='./build' --exclude='./.venv*' --exclude='*.so' --exclude='*.egg-info' \
        --exclude='./src/fastrnn/_ext/*.c' -cf - . | tar -xf - -C "$SRC"
fi

echo "== fresh venv + build with FASTRNN_BOUNDSCHECK=1"
"$PYTHON" -m venv "$VENV"
FASTRNN_BOUNDSCHECK=1 "$VENV/bin/pip" install --no-cache-dir -q "$SRC[test]"

echo "== the kernels were compiled with bounds checks"
checked=0
for c in "$SRC"/src/fastrnn/_ext/_simple_rnn.c "$SRC"/src/fastrnn/_ext/_lstm.c \
         "$SRC"/src/fastrnn/_ext/_gru.c; do
    n=$(grep -c "__Pyx_RaiseBufferIndexError(" "$c" || true)
    echo "   $(basename "$c"): $n bounds checks"
    [ "$n" -gt 0 ] && checked=$((checked + 1))
done
if [ "$checked" -ne 3 ]; then
    echo "error: the generated C code has no bounds checks: FASTRNN_BOUNDSCHECK was ignored" >&2
    exit 1
fi
# and they fire: an empty time axis makes the kernel's &x[0, 0, 0] out of bounds
(cd "$WORK" && "$VENV/bin/python" - <<'EOF'
import numpy as np
from fastrnn._ext import _simple_rnn
f = np.float32
try:
    _simple_rnn.forward(np.zeros((0, 1, 1), f), np.zeros((1, 1), f), np.zeros((1, 1), f),
                        np.zeros(1, f), np.zeros((1, 1, 1), f), 0)
except IndexError as exc:
    print(f"   out-of-bounds access raises IndexError: {exc}")
except TypeError as exc:        # the kernel's signature changed: only the grep above counts
    print(f"   (runtime probe skipped: {exc})")
else:
    raise SystemExit("error: an out-of-bounds access went unchecked")
EOF
)

echo "== tests against the bounds-checked build"
if [ "$#" -eq 0 ]; then
    set -- tests/test_recurrent_vs_reference.py tests/test_masking.py tests/test_stacked.py \
           tests/test_wrappers.py tests/test_optimizers.py tests/test_robustness.py \
           tests/test_robustness_property.py
fi
# From the repository (the package lives in src/, so the venv's build is what is imported);
# the copy's tests are identical.  -p no:cacheprovider: no .pytest_cache in the checkout.
cd "$SRC"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
