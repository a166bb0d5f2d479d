#!/bin/sh
# Install what ckdoc needs to build and test, from Debian's packages. Idempotent and quiet when
# everything is present; needs root (or sudo) only when something is missing.
set -e
PKGS="build-essential libcjson-dev libncurses-dev libxxhash-dev libblas-dev libopenmpi-dev openmpi-bin
      python3 python3-venv python3-pip clang libclang-rt-dev tmux"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "ckdoc deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
