#!/bin/sh
# Installs what crsnap needs to build, test and run its demo on Debian 12 (run as root, or with
# sudo available). Safe to run again.
set -e
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
# The tools the field tests checkpoint (gawk ... jq) are small; node and java are tested when present.
PKGS="build-essential cmake pkg-config liburing-dev libzstd-dev libxxhash-dev libcmocka-dev zstd python3 perl
      gawk mawk sqlite3 bc tcl xz-utils lua5.4 jq"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
