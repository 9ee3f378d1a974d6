#!/bin/sh
# Installs what crsnap needs to build, test and run its demo on Debian 12 (run as root, or with
# sudo available). Safe to run again.
set -e
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
# The tools the field tests checkpoint (gawk ... jq) are small; node and java are tested when present.
# slurm-wlm and munge: the Slurm test starts its own one-node cluster (tests/lib/slurm.sh).
PKGS="build-essential cmake pkg-config liburing-dev libzstd-dev libxxhash-dev libcmocka-dev zstd python3 perl
      gawk mawk sqlite3 bc tcl xz-utils lua5.4 jq slurm-wlm munge"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    $SUDO apt-get update -qq
    # Installing slurm-wlm and munge must not start the system's own daemons (the test runs
    # its own, in a temp directory): a policy-rc.d that says no, for this install only, when
    # the system has none of its own.
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod 755 /usr/sbin/policy-rc.d
        policy=1
    fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing || st=$?
    [ -z "$policy" ] || $SUDO rm -f /usr/sbin/policy-rc.d
    [ -z "${st:-}" ] || exit "$st"
fi
