#!/bin/sh
# `make screenshots`: run the real browser in tmux on the demo checkpoint, capture screens with
# their colours (capture-pane -e), and render them to PNG with aha (ANSI to HTML) and headless
# Chromium. The rendering tools are installed here, not by tests/deps.sh: CI never needs them.
# Usage: tui/screenshots.sh CKDOC OUTDIR
set -eu
CKDOC=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
OUT=$2
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

missing=""
command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
command -v aha >/dev/null 2>&1 || missing="$missing aha"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] || missing="$missing fonts-dejavu-core"
if [ -n "$missing" ]; then
    echo "screenshots: installing$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/ckdoc-shots.XXXXXX")
SOCK="ckdoc-shots-$$"
trap 'tmux -L "$SOCK" kill-server 2>/dev/null; rm -rf "$W"' EXIT INT TERM
"$CKDOC" demo "$W/demo" demo >/dev/null
# The path shown in the title bar: short and stable.
ln -s "$W/demo" "$W/checkpoint"
cd "$W"

tm() { tmux -L "$SOCK" "$@"; }
wait_for() { # session, text
    n=50
    while [ $n -gt 0 ]; do
        tm capture-pane -p -t "$1" | grep -qF -- "$2" && return 0
        sleep 0.1
        n=$((n - 1))
    done
    echo "screenshots: '$2' never appeared" >&2
    return 1
}
start() { # session cols rows
    tm new-session -d -s "$1" -x "$2" -y "$3" "env TERM=tmux-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 $CKDOC checkpoint; sleep 60"
    wait_for "$1" "84 tensors"
}
shot() { # session name cols rows
    sleep 0.3
    tm capture-pane -e -N -p -t "$1" > "$W/$2.ans"
    {
        printf '<!DOCTYPE html><html><head><meta charset="utf-8"><style>'
        printf 'body{margin:0;background:#000}pre{margin:8px;font-family:"DejaVu Sans Mono",monospace;font-size:13px;line-height:20px;color:#ddd}'
        printf '</style></head><body><pre>'
        aha --black --no-header < "$W/$2.ans"
        printf '</pre></body></html>\n'
    } > "$W/$2.html"
    width=$(( $3 * 785 / 100 + 16 )) height=$(( $4 * 20 + 16 ))
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
        --window-size="$width,$height" --screenshot="$OUT/$2.png" "file://$W/$2.html" >/dev/null 2>&1
    echo "screenshots: $OUT/$2.png"
}

start main 120 36
tm send-keys -t main j j j j Enter j j j j
shot main browser 120 36
tm send-keys -t main Tab Enter
wait_for main "verdict  TRANSPOSED"
shot main detail 120 36
tm send-keys -t main Tab j a
wait_for main "Plan  1 action"
shot main findings 120 36
tm send-keys -t main Tab Tab s
wait_for main "heatmap"
shot main stats 120 36
tm send-keys -t main Escape '?'
wait_for main "move down"
shot main help 120 36

start small 80 24
tm send-keys -t small j j j j Enter
shot small small 80 24
