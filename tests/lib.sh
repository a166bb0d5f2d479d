# Shared helpers for the command-line tests (sourced, not run). Each test case calls pass/fail
# with a name; `expect_exit` runs ckdoc and checks its exit status.
SUITE=${SUITE:-cli}
fails=0
pass() { echo "PASS: $SUITE/$1"; }
fail() { echo "FAIL: $SUITE/$1${2:+: $2}"; fails=$((fails + 1)); }
check() { # name, shell condition...
    name=$1; shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}
finish() { [ "$fails" -eq 0 ]; }
