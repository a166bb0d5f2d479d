#!/bin/sh
# The browser, driven for real inside tmux (send-keys, capture-pane) at 120x40, 80x24 and 60x20:
# open, navigate, expand a layer, search, jump from a finding, stage a fix, save the plan (the JSON
# file is checked), statistics, help, resize, quit with the terminal restored, the unsaved-plan
# question, and SIGTERM restoring the terminal. Polls the screen instead of sleeping.
SUITE=tui
. "$(dirname "$0")/../lib.sh"
: "${CKDOC:?}" "${WORK:?}"
# docs/tui.md carries the key table exactly as `ckdoc --keys` prints it from the bindings
mkdir -p "$WORK/tui-keys"
sed -n '/<!-- keys:begin -->/,/<!-- keys:end -->/p' "$(dirname "$0")/../../docs/tui.md" | sed '1d;$d' > "$WORK/tui-keys/doc.md"
"$CKDOC" --keys > "$WORK/tui-keys/table.md"
check keys_doc_matches_table cmp -s "$WORK/tui-keys/doc.md" "$WORK/tui-keys/table.md"
if ! command -v tmux >/dev/null 2>&1; then
    echo "SKIP: tui (tmux is not installed)"
    exit 0
fi
T="$WORK/tui"
rm -rf "$T"
mkdir -p "$T"
"$CKDOC" demo "$T/demo" demo >/dev/null || { fail demo_fixture; finish; exit 1; }
SOCK="ckdoc-test-$$"
tm() { tmux -L "$SOCK" "$@"; }
trap 'tmux -L "$SOCK" kill-server 2>/dev/null' EXIT INT TERM
export TERM_INNER=tmux-256color
screen() { tm capture-pane -p -t "$1"; }
wait_for() { # session, fixed string, [tries of 0.1 s]
    n=${3:-50}
    while [ "$n" -gt 0 ]; do
        screen "$1" | grep -qF -- "$2" && return 0
        sleep 0.1
        n=$((n - 1))
    done
    echo "  screen of $1 while waiting for '$2':" >&2
    screen "$1" | sed 's/^/  | /' >&2
    return 1
}
gone() { ! screen "$1" | grep -qF -- "$2"; }
# start NAME COLS ROWS ARGS...: the browser in a fresh session; the shell after it reports the exit
# status and whether the tty is back in canonical mode with echo.
start() {
    name=$1 cols=$2 rows=$3
    shift 3
    tm new-session -d -s "$name" -x "$cols" -y "$rows" \
        "env TERM=$TERM_INNER LANG=C.UTF-8 LC_ALL=C.UTF-8 $CKDOC $* ; echo CKDOC-EXIT=\$?; stty -a | tr ' ;' '\n\n' | grep -x -e icanon -e echo -e -icanon -e -echo | tr '\n' ' '; echo; sleep 60"
}
restored() { # session: the UI is gone and the terminal is sane again
    wait_for "$1" "icanon echo" && gone "$1" "Findings"
}

# ---- 120x40: the whole round ----------------------------------------------------------------
start big 120 40 "$T/demo" --plan "$T/plan.json"
check opens wait_for big "qwen3_moe, 3 layers, 8 experts; 84 tensors in 3 shards"
check overview_layer_status sh -c "tmux -L $SOCK capture-pane -p -t big | grep -qE 'layer 1 +33 tensors +193.4 KiB 1 error'"
check findings_pane wait_for big "TRANSPOSED"
tm send-keys -t big j j Enter
check expand_layer wait_for big "experts 8/8"
check expand_layer_subgroups wait_for big "self_attn.k_proj.weight"
tm send-keys -t big / e x p e r t s . 3 . d o w n Enter
check search wait_for big "/experts.3.down  (n next, N previous)"
check search_detail wait_for big "key      model.layers.0.mlp.experts.3.d"
tm send-keys -t big Tab Enter
check jump_from_finding wait_for big "verdict  TRANSPOSED (error)"
check jump_row_status wait_for big "transposed"
check detail_rule wait_for big "qwen3_moe.json"
tm send-keys -t big a
check stage_fix wait_for big "Plan  1 action  (unsaved: w)"
tm send-keys -t big w
check save_prompt wait_for big "save plan to: $T/plan.json_"
tm send-keys -t big Enter
check save_message wait_for big "plan saved to"
check plan_json python3 - "$T/plan.json" "$T/demo" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == "ckdoc.plan/1", d
assert d["source"] == sys.argv[2], d
assert [a["action"] for a in d["actions"]] == ["transpose"], d
assert d["actions"][0]["key"] == "model.layers.1.mlp.experts.3.down_proj.weight", d
assert d["actions"][0]["finding"] == "TRANSPOSED", d
PY
tm send-keys -t big s
check stats_overlay wait_for big "histogram (64 bins"
check stats_heatmap wait_for big "heatmap: mean |x|"
tm send-keys -t big Escape
check stats_closes sh -c "sleep 0.3; ! tmux -L $SOCK capture-pane -p -t big | grep -qF 'histogram (64'"
tm send-keys -t big '?'
check help_overlay wait_for big "save the plan (ckdoc.plan/1 JSON)"
tm send-keys -t big q
check help_closes sh -c "sleep 0.3; ! tmux -L $SOCK capture-pane -p -t big | grep -qF 'ckdoc.plan/1 JSON'"
tm send-keys -t big f '*' e x p e r t s . 0 . '*' Enter
check filter wait_for big "filter *experts.0.*: 9 tensors"
tm send-keys -t big q
check quit_exit_0 wait_for big "CKDOC-EXIT=0"
check quit_restores restored big

# ---- unsaved plan: q asks --------------------------------------------------------------------
start ask 120 40 "$T/demo"
wait_for ask "Tree  9 rows" >/dev/null
tm send-keys -t ask Tab a q
check quit_asks wait_for ask "the plan has 1 unsaved action: quit anyway? (y/n)"
tm send-keys -t ask n
check quit_no_stays sh -c "sleep 0.3; tmux -L $SOCK capture-pane -p -t ask | grep -qF 'Plan  1 action'"
tm send-keys -t ask q y
check quit_yes wait_for ask "CKDOC-EXIT=0"

# ---- mouse: the footer's items are buttons (as htop's function bar) -----------------------------
# A left press and its release in the X10 encoding of kmous (ESC [ M, then 32 + button (3 is the
# release), 33 + x, 33 + y), written to the pane as raw bytes; columns are found on the screen.
click() { # session x y (0-based)
    cx=$(printf '%02x' $((33 + $2))) cy=$(printf '%02x' $((33 + $3)))
    tm send-keys -t "$1" -H 1b 5b 4d 20 "$cx" "$cy" 1b 5b 4d 23 "$cx" "$cy"
}
col_of() { # session text: 0-based column of text on the last line
    screen "$1" | tail -n 1 | awk -v t="$2" '{ print index($0, t) - 1 }'
}
start mouse 120 40 "$T/demo"
wait_for mouse "Tree  9 rows" >/dev/null
wait_for mouse "?:help" >/dev/null
click mouse "$(col_of mouse '?:help')" 39
check click_footer_help wait_for mouse "save the plan (ckdoc.plan/1 JSON)"
tm send-keys -t mouse q
n=30
while [ "$n" -gt 0 ] && ! gone mouse "ckdoc.plan/1 JSON"; do sleep 0.1; n=$((n - 1)); done
click mouse "$(( $(col_of mouse ' errors') + 2 ))" 39
check click_footer_errors wait_for mouse "Findings  2 of 4 (errors"
click mouse "$(( $(col_of mouse '/:search') + 3 ))" 39
check click_footer_search wait_for mouse "/_"
tm send-keys -t mouse Escape q
check mouse_quit wait_for mouse "CKDOC-EXIT=0"

# ---- read-only ---------------------------------------------------------------------------------
start ro 120 40 "$T/demo" --read-only
wait_for ro "[read-only]" >/dev/null
tm send-keys -t ro Tab a
check read_only_refuses wait_for ro "read-only mode: nothing can be staged or saved"
tm send-keys -t ro q
check read_only_quits wait_for ro "CKDOC-EXIT=0"

# ---- 80x24: narrow layout --------------------------------------------------------------------
start small 80 24 "$T/demo"
check narrow_opens wait_for small "Tree  9 rows"
check narrow_detail wait_for small "Detail   (Tab: findings 4, plan 0)"
tm send-keys -t small Tab
check narrow_findings wait_for small "Findings  4 of 4"
tm send-keys -t small q
check narrow_quit wait_for small "CKDOC-EXIT=0"

# ---- 60x20: too small, then resized ------------------------------------------------------------
start tiny 60 20 "$T/demo"
check too_small_message wait_for tiny "ckdoc needs at least 80x24; this terminal is 60x20."
tm resize-window -t tiny -x 100 -y 30
check resize_redraws wait_for tiny "Tree  9 rows"
tm send-keys -t tiny q
check resize_quit wait_for tiny "CKDOC-EXIT=0"

# ---- hostile names: escape sequences in tensor names and in a shard's file name ---------------
# ESC [ 2 J (clear), ESC ] 0 ; title BEL (retitle), CR, DEL, 8-bit CSI (U+009B), a right-to-left
# override, and invalid UTF-8 (the readers refuse it inside headers, so it comes in the file name).
# The screen must show them escaped, keep its header (not cleared), and keep its title: a control
# session first shows that this tmux does take a title from OSC 0.
mkdir -p "$T/hostile"
python3 - "$T/hostile" <<'PY'
import json, os, struct, sys
names = ["\x1b[2J", "\x1b]0;pwned\x07x", "a\rb.weight", "del\x7f.weight", "c1\u009b31m.weight",
         "rtl\u202egnp.exe.weight", "model.layers.0.mlp.\x1b[31mred.weight", "ok.weight"]
hdr = {n: {"dtype": "F32", "shape": [2], "data_offsets": [8 * i, 8 * i + 8]} for i, n in enumerate(names)}
h = json.dumps(hdr).encode()
h += b" " * (-len(h) % 8)
with open(os.path.join(os.fsencode(sys.argv[1]), b"w\xff\xfe\x1b[2J.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + bytes(8 * len(names)))
PY
tm new-session -d -s ctl -x 80 -y 20 "printf '\033]0;pwned\007'; sleep 60"
check hostile_control_title_works sh -c "sleep 0.3; tmux -L $SOCK display -p -t ctl '#{pane_title}' | grep -qx pwned"
start hostile 120 40 "$T/hostile"
check hostile_opens wait_for hostile "no family spec; 8 tensors in 1 shard"
tm send-keys -t hostile + j j
check hostile_clear_escaped wait_for hostile '\x1b[2J'
check hostile_title_escaped wait_for hostile '\x1b]0;pwned\x07x'
check hostile_cr_escaped wait_for hostile 'a\x0db.weight'
check hostile_del_escaped wait_for hostile 'del\x7f.weight'
check hostile_c1_escaped wait_for hostile 'c1\u009b31m.weight'
check hostile_rtl_escaped wait_for hostile 'rtl\u202egnp.exe.weight'
check hostile_sgr_escaped wait_for hostile 'mlp.\x1b[31mred.weight'
check hostile_file_name_escaped wait_for hostile 'w\xff\xfe\x1b[2J.safetensors'
# not cleared: the title bar and the panes are all still there after the names were drawn
check hostile_not_cleared sh -c "tmux -L $SOCK capture-pane -p -t hostile | grep -q '^ ckdoc ' && tmux -L $SOCK capture-pane -p -t hostile | grep -q 'Findings  '"
check hostile_not_retitled sh -c "! tmux -L $SOCK display -p -t hostile '#{pane_title}' | grep -q pwned"
tm send-keys -t hostile q
check hostile_quit wait_for hostile "CKDOC-EXIT=0"

# ---- SIGTERM restores the terminal ---------------------------------------------------------------
tm new-session -d -s term -x 120 -y 40 \
    "env TERM=$TERM_INNER LANG=C.UTF-8 LC_ALL=C.UTF-8 $CKDOC $T/demo & echo \$! > $T/pid; wait \$!; echo CKDOC-EXIT=\$?; stty -a | tr ' ;' '\n\n' | grep -x -e icanon -e echo -e -icanon -e -echo | tr '\n' ' '; echo; sleep 60"
check sigterm_opens wait_for term "Tree  9 rows"
kill -TERM "$(cat "$T/pid")"
check sigterm_status wait_for term "CKDOC-EXIT=143"
check sigterm_restores restored term

finish
