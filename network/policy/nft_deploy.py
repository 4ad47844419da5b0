"""Deploying a firewall's zone ruleset (the second artifact of a linux_nftables firewall, beside its FRR
routing config): check, dry-run diff, atomic apply, commit-confirm with automatic rollback.

The state machine runs ON the firewall (POSIX sh + nft + util-linux flock/setsid/unshare), like the FRR
driver's: a revert must fire even if the controller dies or the new ruleset cuts its path.

- only jinbao's own tables (`ip`/`ip6 filtering_policies`) are ever replaced: a candidate file is prefixed
  with `table X; delete table X` for each, so one `nft -f` swaps them in a single kernel transaction (all
  or nothing) and never touches other tables (the management-plane filter, the lab's fault injection);
- `nft -c` checks the candidate before anything changes;
- the diff compares `nft list` of the running tables with `nft list` of the candidate loaded into a private
  network namespace (`unshare -n`): both sides in nft's canonical form, nothing applied;
- `commit N` saves the running tables, applies, and starts a timer that restores them after N seconds
  unless `confirm` comes first; `rollback` restores them at once.

`NftRulesetAdapter` speaks the deploy engine's `Adapter` protocol over any command runner (SSH to the
device, or `ip netns exec` in tests)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.errors import JinbaoError

EXIT_PENDING = 73
EXIT_NOTHING = 74
EXIT_LOCKED = 75
STATE_DIR = "/var/lib/jinbao-nft"
TABLES = ("ip filtering_policies", "ip6 filtering_policies")

LIB = r"""
set -u
umask 077
OP=$1; STATE=$2; shift 2
TABLES="ip ip6"
mkdir -p "$STATE" && chmod 700 "$STATE" || exit 1
exec 9>"$STATE/lock"
flock -w 60 9 || { echo "jinbao-nft: state lock busy" >&2; exit 75; }
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
prefix() { for f in $TABLES; do echo "table $f filtering_policies"; echo "delete table $f filtering_policies"; done; }
current() { for f in $TABLES; do nft list table $f filtering_policies 2>/dev/null; done; true; }
save() { { prefix; current; } > "$1"; }
pending() { [ -f "$STATE/revert.pid" ] && kill -0 "$(cat "$STATE/revert.pid")" 2>/dev/null; }
stop_timer() {
  if [ -f "$STATE/revert.pid" ]; then p=$(cat "$STATE/revert.pid"); rm -f "$STATE/revert.pid"; kill "$p" 2>/dev/null; fi
}
case "$OP" in
current) current ;;
check) { prefix; cat; } > "$STATE/candidate.nft" && nft -c -f "$STATE/candidate.nft" ;;
diff)
  { prefix; cat; } > "$STATE/candidate.nft" || exit 1
  nft -c -f "$STATE/candidate.nft" || exit 1
  current > "$STATE/running.list"
  unshare -n sh -c 'nft -f "$1" && for f in ip ip6; do nft list table $f filtering_policies 2>/dev/null; done' \
    sh "$STATE/candidate.nft" > "$STATE/candidate.list" || exit 1
  diff -u --label running --label candidate "$STATE/running.list" "$STATE/candidate.list"
  [ $? -le 1 ] ;;
commit)
  SECS=$1
  pending && { echo "jinbao-nft: a commit awaits confirmation" >&2; exit 73; }
  { prefix; cat; } > "$STATE/candidate.nft" || exit 1
  nft -c -f "$STATE/candidate.nft" || exit 1
  save "$STATE/rollback.nft" || exit 1
  nft -f "$STATE/candidate.nft" || exit 1
  echo "$(now) commit confirm=$SECS" >> "$STATE/history.log"
  if [ "$SECS" -gt 0 ]; then
    cp "$STATE/rollback.nft" "$STATE/checkpoint.nft"
    cat > "$STATE/revert.sh" <<'EOS'
STATE=$1; SECS=$2
echo $$ > "$STATE/revert.pid.new" && mv -f "$STATE/revert.pid.new" "$STATE/revert.pid"
sleep "$SECS"
exec 9>"$STATE/lock"; flock 9
[ "$(cat "$STATE/revert.pid" 2>/dev/null)" = "$$" ] || exit 0
nft -f "$STATE/checkpoint.nft"; rc=$?
rm -f "$STATE/revert.pid" "$STATE/checkpoint.nft"
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) auto-revert rc=$rc" >> "$STATE/history.log"
EOS
    rm -f "$STATE/revert.pid"
    setsid sh "$STATE/revert.sh" "$STATE" "$SECS" > "$STATE/revert.log" 2>&1 < /dev/null 9>&- &
    i=0; while [ ! -f "$STATE/revert.pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
    pending || { echo "jinbao-nft: revert timer did not start" >&2; nft -f "$STATE/rollback.nft"; exit 1; }
  fi ;;
confirm)
  pending || exit 74
  stop_timer; rm -f "$STATE/checkpoint.nft"; echo "$(now) confirm" >> "$STATE/history.log" ;;
rollback)
  src="$STATE/rollback.nft"; pending && src="$STATE/checkpoint.nft"
  [ -f "$src" ] || exit 74
  stop_timer
  nft -f "$src" || exit 1
  rm -f "$STATE/checkpoint.nft"; echo "$(now) rollback" >> "$STATE/history.log" ;;
pending) pending || exit 74 ;;
*) echo "jinbao-nft: unknown operation $OP" >&2; exit 2 ;;
esac
"""


@dataclass(frozen=True)
class CmdResult:
    rc: int
    out: str
    err: str


# run(argv, stdin) -> result; argv[0] is a program on the firewall
Runner = Callable[[list[str], str | None], CmdResult]


class NftError(JinbaoError, RuntimeError):
    """The firewall refused an operation (nft -c failed, a commit is pending, …)."""


class NftRulesetAdapter:
    """The deploy engine's Adapter for the ruleset artifact of a linux_nftables firewall."""

    method = "nft list of running tables vs candidate loaded in a private namespace"

    def __init__(self, run: Runner, state_dir: str = STATE_DIR) -> None:
        self.run = run
        self.state_dir = state_dir
        self._armed: int | None = None

    def _op(self, op: str, *args: str, stdin: str | None = None, ok: tuple[int, ...] = (0,)) -> CmdResult:
        res = self.run(["sh", "-c", LIB, "jinbao-nft", op, self.state_dir, *args], stdin)
        if res.rc not in ok:
            raise NftError(f"nft {op}: {(res.err or res.out).strip()[-500:] or f'exit {res.rc}'}")
        return res

    def running(self) -> str:
        return self._op("current").out

    def check(self, intended: str) -> None:
        self._op("check", stdin=intended)

    def diff(self, intended: str) -> str:
        return self._op("diff", stdin=intended).out

    def commit(self, intended: str, confirm_seconds: int | None, message: str) -> int | None:
        res = self._op("commit", str(confirm_seconds or 0), stdin=intended, ok=(0, EXIT_PENDING))
        if res.rc == EXIT_PENDING:
            raise NftError("a commit awaits confirmation on the firewall: nothing changed")
        self._armed = confirm_seconds or None
        return self._armed

    def confirm(self) -> None:
        if self._armed is not None:
            self._op("confirm", ok=(0, EXIT_NOTHING))
            self._armed = None

    def rollback(self) -> None:
        self._op("rollback")
        self._armed = None

    def pending(self) -> bool:
        return self._op("pending", ok=(0, EXIT_NOTHING)).rc == 0

    def bgp_established(self) -> dict[str, bool]:
        return {}  # the ruleset artifact has no BGP of its own: the routing artifact checks sessions

    def ping(self, address: str, source: str | None) -> tuple[bool, str]:
        argv = ["ping", "-c", "2", "-W", "1", *(["-I", source] if source else []), address]
        res = self.run(argv, None)
        return res.rc == 0, res.out.strip().splitlines()[-1] if res.out.strip() else res.err.strip()
