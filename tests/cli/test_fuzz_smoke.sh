#!/bin/sh
# A short, bounded fuzzing run in the ordinary test suite: builds the libFuzzer targets and runs
# each for 10 seconds (tests/fuzz/run.sh prints one PASS/FAIL line per target). Without clang it
# prints SKIP lines. `make fuzz` runs them longer (FUZZ_SECONDS, default 60).
set -u
if ! command -v "${CLANG:-clang}" >/dev/null 2>&1; then
    echo "SKIP: fuzz/header (no clang)"
    echo "SKIP: fuzz/index (no clang)"
    exit 0
fi
# A build folder of its own, so that `make test` and `make asan` running side by side do not
# share object files.
FUZZ_BUILD=${FUZZ_BUILD:-${WORK:-/tmp}/fuzz-build} sh tests/fuzz/run.sh "${FUZZ_SMOKE_SECONDS:-10}"
