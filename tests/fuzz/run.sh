#!/bin/sh
# Build and run the libFuzzer targets: tests/fuzz/run.sh [SECONDS] [TARGET...]
# Each target (fuzz_header: ck_st_parse_header; fuzz_index: ck_index_parse) is built with
# clang -fsanitize=fuzzer,address,undefined against the library sources it needs, seeded from
# tests/fuzz/seeds/<target>/, and run for SECONDS seconds (default 60) with a 2 GiB RSS limit.
# Prints one "PASS: fuzz/<target> ..." / "FAIL: ..." / "SKIP: ..." line per target; exits 1 if any
# target crashed, leaked, timed out or failed to build. Crash inputs land in $FUZZ_BUILD/artifacts/.
# Environment: CLANG (default clang), FUZZ_BUILD (default build/fuzz), FUZZ_JOBS unused (1 process).
set -u
cd "$(dirname "$0")/../.."
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-header index config}
CLANG=${CLANG:-clang}
B=${FUZZ_BUILD:-build/fuzz}

if ! command -v "$CLANG" >/dev/null 2>&1; then
    for t in $targets; do echo "SKIP: fuzz/$t (no clang)"; done
    exit 0
fi

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CFLAGS="-std=gnu11 -g -O1 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -I. $SAN"
mkdir -p "$B/obj" "$B/artifacts"

# The library: every inspect/*.c except the subcommands (cmd_*.c need the main program). Objects
# go into an archive, so a target only pulls in what it references. A source that does not compile
# only matters if a target needs it: the link then fails and its log is shown.
objs=""
build_log="$B/build.log"
: > "$build_log"
for src in inspect/*.c; do
    case $(basename "$src") in cmd_*) continue ;; esac
    obj="$B/obj/$(basename "$src" .c).o"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find inspect -name '*.h' -newer "$obj" 2>/dev/null | head -n 1)" ]; then
        rm -f "$obj"
        "$CLANG" $CFLAGS -fsanitize=fuzzer-no-link -c "$src" -o "$obj" >> "$build_log" 2>&1 || rm -f "$obj"
    fi
    [ -f "$obj" ] && objs="$objs $obj"
done
# The family specs are built into the library as data (as the Makefile does).
sh inspect/specs/embed.sh "$B/specs_data.c" inspect/specs/*.json
"$CLANG" $CFLAGS -fsanitize=fuzzer-no-link -c "$B/specs_data.c" -o "$B/obj/specs_data.o" >> "$build_log" 2>&1 &&
    objs="$objs $B/obj/specs_data.o"
rm -f "$B/libfuzz.a"
ar rcs "$B/libfuzz.a" $objs

status=0
for t in $targets; do
    src=tests/fuzz/fuzz_$t.c
    bin="$B/fuzz_$t"
    if [ ! -f "$src" ]; then echo "FAIL: fuzz/$t (no $src)"; status=1; continue; fi
    if ! "$CLANG" $CFLAGS -fsanitize=fuzzer "$src" "$B/libfuzz.a" -lcjson -lm -o "$bin" > "$B/link_$t.log" 2>&1; then
        if grep -q 'undefined reference' "$B/link_$t.log" && [ "$t" = index ] && [ ! -f inspect/index.c ]; then
            echo "SKIP: fuzz/$t (inspect/index.c not written yet)"
        else
            echo "FAIL: fuzz/$t (does not build)"; cat "$B/link_$t.log" "$build_log"; status=1
        fi
        continue
    fi
    corpus="$B/corpus/$t"      # grows across runs; the committed seeds stay untouched
    mkdir -p "$corpus"
    log="$B/fuzz_$t.log"
    "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
        -dict=tests/fuzz/safetensors.dict -print_final_stats=1 \
        -artifact_prefix="$B/artifacts/$t-" "$corpus" "tests/fuzz/seeds/$t" > "$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    if [ $rc -eq 0 ] && ! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
        echo "PASS: fuzz/$t (${runs:-?} runs in ${secs}s, ${cov:-cov: ?})"
    else
        echo "FAIL: fuzz/$t (exit $rc after ${runs:-?} runs; log $log, crash input in $B/artifacts/)"
        grep -E -A 30 'ERROR: |runtime error:|deadly signal' "$log" | head -n 60
        status=1
    fi
done
exit $status
