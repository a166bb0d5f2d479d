#!/bin/sh
# Hostile inputs never crash ckdoc: for every case in tests/hostile/expect.txt, `ckdoc ls CASE`
# must exit 2, print exactly one stderr line per expected problem (each naming the case's file and
# holding the expected substring: byte offset and words), put no raw control characters on stdout
# or stderr, finish within 30 s, and draw no sanitizer report (the same script runs under
# `make asan`). The corpus is built by tests/hostile/make_corpus.py; symlinks and FIFOs, which git
# does not hold well, are made here at run time.
set -u
. tests/lib.sh
SUITE=hostile
: "${CKDOC:?CKDOC must name the ckdoc binary}" "${WORK:=$(mktemp -d)}"
H="$WORK/hostile"
rm -rf "$H"
mkdir -p "$H"
cp -R tests/hostile/cases "$H/"

# Run-time cases.
mkdir -p "$H/cases/symlink_dangling" "$H/cases/symlink_device" "$H/cases/symlink_outside"
ln -s does-not-exist.safetensors "$H/cases/symlink_dangling/model.safetensors"
ln -s /dev/zero "$H/cases/symlink_device/model.safetensors"
mkfifo "$H/cases/fifo.safetensors" 2>/dev/null || true

# Control characters other than newline and tab (raw ESC, BEL, CR, ... would drive a terminal).
has_ctl() { LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177]')" "$1"; }

cases=$(grep -v '^#' tests/hostile/expect.txt | grep -v '^$' | cut -f1 | uniq)
for c in $cases; do
    path="$H/$c"
    name=$(basename "$c")
    if [ ! -e "$path" ] && [ ! -L "$path" ]; then
        echo "SKIP: $SUITE/$c (could not be made here)"
        continue
    fi
    out="$WORK/hostile.out" err="$WORK/hostile.err"
    timeout 30 "$CKDOC" ls "$path" > "$out" 2> "$err" < /dev/null
    rc=$?
    why=""
    if [ $rc -eq 124 ]; then why="timed out (hang?)"
    elif [ $rc -ne 2 ]; then why="exit status $rc, expected 2"
    fi
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|Sanitizer' "$err"; then
        why="${why:+$why; }sanitizer report"
    fi
    if has_ctl "$out"; then why="${why:+$why; }raw control character on stdout"; fi
    if has_ctl "$err"; then why="${why:+$why; }raw control character on stderr"; fi
    nexp=$(grep -c "^$c	" tests/hostile/expect.txt)
    nerr=$(grep -c . "$err")
    if [ "$nerr" -ne "$nexp" ]; then why="${why:+$why; }$nerr stderr lines, expected $nexp"; fi
    # Each expected substring on a line that also names the file; fixed strings, not patterns.
    grep "^$c	" tests/hostile/expect.txt | cut -f2- > "$WORK/hostile.want"
    while IFS= read -r want; do
        if ! grep -F -- "$want" "$err" | grep -qF -- "$name"; then
            why="${why:+$why; }no stderr line with '$want' naming $name"
        fi
    done < "$WORK/hostile.want"
    if [ -z "$why" ]; then
        pass "$c"
    else
        fail "$c" "$why"
        sed 's/^/    stderr: /' "$err" | head -n 5 | LC_ALL=C tr -d '\000-\010\013-\037\177'
    fi
done

# Not hostile: the valid target reads fine (the harness is not just failing everything), and a
# shard symlinked outside its directory is followed, as the Hugging Face cache layout needs
# (snapshots/<rev>/model.safetensors -> ../../blobs/<hash>).
ln -s ../valid_target/model.safetensors "$H/cases/symlink_outside/model.safetensors"
for c in valid_target symlink_outside; do
    timeout 30 "$CKDOC" ls "$H/cases/$c" > "$WORK/hostile.out" 2> "$WORK/hostile.err" < /dev/null
    rc=$?
    if [ $rc -eq 0 ] && [ ! -s "$WORK/hostile.err" ] && grep -q '^a  *F32' "$WORK/hostile.out" && ! has_ctl "$WORK/hostile.out"; then
        pass "cases/$c"
    else
        fail "cases/$c" "exit status $rc, expected 0 and a listing"
        sed 's/^/    stderr: /' "$WORK/hostile.err" | head -n 5
    fi
done
finish
