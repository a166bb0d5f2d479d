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

# ---- SIGTERM restores the terminal ---------------------------------------------------------------
tm new-session -d -s term -x 120 -y 40 \
    "env TERM=$TERM_INNER LANG=C.UTF-8 LC_ALL=C.UTF-8 $CKDOC $T/demo & echo \$! > $T/pid; wait \$!; echo CKDOC-EXIT=\$?; stty -a | tr ' ;' '\n\n' | grep -x -e icanon -e echo -e -icanon -e -echo | tr '\n' ' '; echo; sleep 60"
check sigterm_opens wait_for term "Tree  9 rows"
kill -TERM "$(cat "$T/pid")"
check sigterm_status wait_for term "CKDOC-EXIT=143"
check sigterm_restores restored term

finish
