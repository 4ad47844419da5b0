"""Shell code the FRR driver runs ON the router (POSIX sh, coreutils, util-linux flock/setsid).

Why on the device: a commit-confirm must revert even if the controller dies, loses its network path
(the change may have cut it) or the SSH session drops. So the checkpoint, the revert timer and its
PID live on the router, under one state directory, and every operation on them holds the same
``flock`` so a confirm can never interleave with a revert that is firing.

State directory (default /var/lib/jinbao-frr, mode 0700, root):

- ``lock``            flock for every operation below
- ``rollback.conf``   running config before the last commit (NAPALM ``rollback()`` restores it)
- ``checkpoint.conf`` running config before a commit that still awaits confirmation
- ``startup.conf``    /etc/frr/frr.conf before that commit: frr-reload ``--reload`` always writes the
                      new running config to frr.conf, so during the confirm window the old file is put
                      back — a router rebooting before the confirm then boots the old config too.
- ``revert.sh``       the timer; ``revert.pid`` its PID (written by the timer itself, so it is the
                      PID of the process that will revert, not of a launcher)
- ``revert.log``, ``commit.log``, ``rollback.log``, ``history.log`` (one line per operation)

Every script is run as ``sh -c LIB OP ARGS`` (arguments, never interpolated into the code) and
exits with one of the codes below so the driver can tell "nothing pending" from a failure.
"""

from __future__ import annotations

EXIT_PENDING = 73  # a commit is awaiting confirmation: refuse a second one
EXIT_NOTHING = 74  # nothing pending / nothing to roll back
EXIT_LOCKED = 75  # the state lock stayed busy

# The timer. Arguments: STATE RELOAD SECONDS. It writes its own PID, sleeps, then - under the lock,
# and only if revert.pid still names it (confirm/rollback delete it before killing it) - restores
# the checkpoint with frr-reload (which also writes the restored config to frr.conf).
REVERT_SCRIPT = r"""#!/bin/sh
# jinbao-frr-revert: written by the jinbao FRR NAPALM driver at commit time.
STATE=$1; RELOAD=$2; SECONDS_LEFT=$3
echo $$ > "$STATE/revert.pid.new" && mv -f "$STATE/revert.pid.new" "$STATE/revert.pid"
sleep "$SECONDS_LEFT"
exec 9>"$STATE/lock"
flock 9
[ "$(cat "$STATE/revert.pid" 2>/dev/null)" = "$$" ] || exit 0
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) not confirmed within ${SECONDS_LEFT}s: restoring checkpoint.conf"
"$RELOAD" --reload --stdout "$STATE/checkpoint.conf"
rc=$?
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) frr-reload exit $rc"
rm -f "$STATE/revert.pid"
# A failed revert keeps the checkpoint for a manual rollback; a good one leaves no pending state.
[ "$rc" -eq 0 ] && rm -f "$STATE/checkpoint.conf" "$STATE/startup.conf"
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) auto-revert rc=$rc" >> "$STATE/history.log"
exit "$rc"
"""

# Common prologue: $1 = operation, then STATE RELOAD VTYSH FRRCONF, then the operation's arguments.
LIB = r"""
set -u
umask 077
OP=$1; STATE=$2; RELOAD=$3; VTYSH=$4; FRRCONF=$5; shift 5
mkdir -p "$STATE" && chmod 700 "$STATE" || exit 1
exec 9>"$STATE/lock"
flock -w 60 9 || { echo "jinbao-frr: state lock $STATE/lock busy" >&2; exit 75; }
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
who() { echo "${SUDO_USER:-$(id -un)}"; }
log() { echo "$(now) $(who) $*" >> "$STATE/history.log"; }
running() {  # running config without vtysh's header and "end", readable by frr-reload
    "$VTYSH" -c 'show running-config' > "$1.raw" || return 1
    sed -e '1,/^Current configuration:/d' -e '/^end$/d' "$1.raw" > "$1" && rm -f "$1.raw"
}
pending_pid() {  # prints the live timer's PID; clears a stale record (e.g. after a reboot)
    [ -s "$STATE/revert.pid" ] || return 1
    pid=$(cat "$STATE/revert.pid")
    if grep -qaF "$STATE/revert.sh" "/proc/$pid/cmdline" 2>/dev/null; then echo "$pid"; return 0; fi
    echo "jinbao-frr: revert timer $pid is gone (reboot?); startup config was never changed" >&2
    rm -f "$STATE/revert.pid"
    log "stale revert.pid $pid cleared"
    return 1
}
cancel_timer() {  # $1 = pid; the timer re-checks revert.pid under the lock, so removing it suffices
    rm -f "$STATE/revert.pid"
    kill -TERM -- "-$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null || true
}
merged() {  # $1 = merge snippet -> $STATE/merged.conf = running + snippet (frr-reload merges contexts)
    running "$STATE/merged.conf" && cat "$1" >> "$STATE/merged.conf"
}
case "$OP" in
test)  # $1 = candidate file, $2 = replace|merge
    if [ "$2" = merge ]; then merged "$1" || exit 1; set -- "$STATE/merged.conf"; fi
    "$RELOAD" --test "$1"
    ;;
commit)  # $1 = candidate, $2 = replace|merge, $3 = revert seconds (0 = none), $4 = message, $5 = timer
    if pid=$(pending_pid); then echo "jinbao-frr: commit $pid awaits confirmation" >&2; exit 73; fi
    running "$STATE/rollback.conf.new" && mv -f "$STATE/rollback.conf.new" "$STATE/rollback.conf" || exit 1
    target=$1
    if [ "$2" = merge ]; then merged "$1" || exit 1; target="$STATE/merged.conf"; fi
    if [ "$3" -gt 0 ]; then
        cp "$STATE/rollback.conf" "$STATE/checkpoint.conf" || exit 1
        cp -p "$FRRCONF" "$STATE/startup.conf" || exit 1
        printf '%s' "$5" > "$STATE/revert.sh" || exit 1
        # Armed BEFORE the change: if applying it cuts the controller off, the router still reverts.
        # setsid: own session, so neither the SSH session nor sudo's pty takes it down; 9>&-: the
        # timer must not inherit (and so keep holding) the lock while it sleeps.
        setsid sh "$STATE/revert.sh" "$STATE" "$RELOAD" "$3" 9>&- </dev/null >>"$STATE/revert.log" 2>&1 &
        i=0
        while [ ! -s "$STATE/revert.pid" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
        [ -s "$STATE/revert.pid" ] || { echo "jinbao-frr: revert timer did not start" >&2; exit 1; }
    fi
    "$RELOAD" --reload --stdout "$target" > "$STATE/commit.log" 2>&1
    rc=$?
    # frr-reload wrote the unconfirmed config to frr.conf: put the old one back until confirmed.
    [ "$3" -gt 0 ] && cat "$STATE/startup.conf" > "$FRRCONF"
    log "commit $2 revert_in=$3 rc=$rc message=$4"
    cat "$STATE/commit.log"
    exit $rc
    ;;
confirm)
    pid=$(pending_pid) || { echo "jinbao-frr: no commit awaits confirmation" >&2; exit 74; }
    cancel_timer "$pid"
    "$VTYSH" -c 'write memory' >/dev/null || { echo "jinbao-frr: write memory failed" >&2; exit 1; }
    rm -f "$STATE/checkpoint.conf" "$STATE/startup.conf"
    log "confirm (timer $pid cancelled)"
    ;;
rollback)
    if pid=$(pending_pid); then
        cancel_timer "$pid"; src="$STATE/checkpoint.conf"
    elif [ -s "$STATE/checkpoint.conf" ]; then
        src="$STATE/checkpoint.conf"  # a timer whose own revert failed, or a stale one
    elif [ -s "$STATE/rollback.conf" ]; then
        src="$STATE/rollback.conf"
    else
        echo "jinbao-frr: nothing to roll back to" >&2; exit 74
    fi
    "$RELOAD" --reload --stdout "$src" > "$STATE/rollback.log" 2>&1
    rc=$?
    [ $rc -eq 0 ] && rm -f "$STATE/checkpoint.conf" "$STATE/startup.conf"
    log "rollback from $(basename "$src") rc=$rc"
    cat "$STATE/rollback.log"
    exit $rc
    ;;
pending)
    if pending_pid; then exit 0; else exit 74; fi
    ;;
*)
    echo "jinbao-frr: unknown operation $OP" >&2; exit 2
    ;;
esac
"""
