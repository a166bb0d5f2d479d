#!/bin/sh
# Run every test: the C unit tests, the command-line tests (tests/cli/*.sh), and the interop
# tests against the reference Python clients (tests/interop/*.py). Each test prints one
# "PASS: name" or "FAIL: name" line; this script counts them and ends with "N passed, N failed".
# Environment: CKDOC (the binary under test), TEST_BIN (the build folder), VENV (default .venv).
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
: "${CKDOC:=$ROOT/bin/ckdoc}" "${TEST_BIN:=$ROOT/build}" "${VENV:=$ROOT/.venv}"
export CKDOC TEST_BIN VENV ROOT
# The CUDA back end is a plugin beside the binary under test; unit tests live elsewhere, so they are
# told where it is (absent when CUDA was not built: the CUDA tests then skip, saying so).
plugin="$(dirname "$CKDOC")/ckdoc-cuda.so"
if [ -f "$plugin" ]; then CKDOC_CUDA_PLUGIN=$plugin; export CKDOC_CUDA_PLUGIN; fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ckdoc-test.XXXXXX")
export WORK
trap 'rm -rf "$WORK"' EXIT INT TERM
log="$WORK/results.log"
: > "$log"

run_one() { # label, command...
    label=$1; shift
    out="$WORK/out.$$"
    "$@" > "$out" 2>&1
    rc=$?
    grep -E '^(PASS|FAIL|SKIP): ' "$out" >> "$log"
    if [ $rc -ne 0 ] || grep -q '^FAIL: ' "$out"; then
        echo "--- $label (exit $rc) ---"
        cat "$out"
        if ! grep -qE '^(PASS|FAIL): ' "$out"; then echo "FAIL: $label (exited $rc before reporting)" >> "$log"; fi
        if [ $rc -ne 0 ] && ! grep -q '^FAIL: ' "$out"; then echo "FAIL: $label (exit status $rc)" >> "$log"; fi
    else
        grep -E '^(PASS|SKIP): ' "$out"
    fi
}

for t in "$TEST_BIN"/tests/test_*; do
    [ -x "$t" ] && run_one "unit/$(basename "$t")" "$t"
done
for t in tests/cli/*.sh; do
    [ -f "$t" ] && run_one "cli/$(basename "$t")" sh "$t"
done
for t in tests/interop/test_*.py; do
    [ -f "$t" ] && run_one "interop/$(basename "$t")" "$VENV/bin/python" "$t"
done

pass=$(grep -c '^PASS: ' "$log")
fail=$(grep -c '^FAIL: ' "$log")
skip=$(grep -c '^SKIP: ' "$log")
if [ "$fail" -gt 0 ]; then echo; echo "failed:"; grep '^FAIL: ' "$log"; fi
echo
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
