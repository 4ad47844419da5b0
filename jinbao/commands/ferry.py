"""The one-way ferry (软交换): exchange-zone outbox -> UDP with FEC over a one-way link -> decision inbox."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from core.errors import JinbaoError

app = typer.Typer(no_args_is_help=True, help=__doc__)

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
StateOpt = Annotated[Path, typer.Option("--state", help="This side's state directory (journal, status).")]


def _log(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def _endpoint(value: str, opt: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise JinbaoError(f"{value!r} is not HOST:PORT", entry=opt)
    return host, int(port)


@app.command("stage")
def stage_cmd(
    outbox: Annotated[Path, typer.Option("--outbox", help="The exchange-zone outbox directory.")],
    batch_id: Annotated[str, typer.Option("--batch-id", help="Batch name: 1-128 of [A-Za-z0-9._-].")],
    files: Annotated[list[Path], typer.Argument(help="Files to put in the batch.")],
    source: Annotated[str | None, typer.Option("--source", help="Who produced it (recorded).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Put files into the outbox as one batch: files first, manifest (SHA-256, sizes) last."""
    from network.ferry.outbox import OutboxError, stage_paths

    try:
        d = stage_paths(outbox, batch_id, files, source)
    except OutboxError as e:
        raise JinbaoError(str(e), entry="stage") from None
    print(json.dumps({"batch": str(d)}) if as_json else f"staged {d}")


@app.command("send")
def send_cmd(
    outbox: Annotated[Path, typer.Option("--outbox", help="The exchange-zone outbox (only read).")],
    to: Annotated[str, typer.Option("--to", help="Receiver HOST:PORT across the one-way link.")],
    state: StateOpt,
    rate: Annotated[float, typer.Option("--rate", help="Pacing, Mbit/s on the wire.")] = 200.0,
    k: Annotated[int, typer.Option("--k", help="Data datagrams per FEC block.")] = 32,
    parity: Annotated[int, typer.Option("--parity", help="Reed-Solomon parity datagrams per block.")] = 12,
    rounds: Annotated[int, typer.Option("--rounds", help="Times every batch is sent in all.")] = 2,
    round_gap: Annotated[float, typer.Option("--round-gap", help="Seconds between rounds.")] = 1.0,
    shard_size: Annotated[int, typer.Option("--shard-size", help="Payload bytes per datagram.")] = 1400,
    watch: Annotated[bool, typer.Option("--watch", help="Keep scanning the outbox (else one pass).")] = False,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between scans with --watch.")] = 5.0,
    max_batch_mb: Annotated[int, typer.Option("--max-batch-mb", help="Refuse bigger batches.")] = 256,
    send_invalid: Annotated[bool, typer.Option("--send-invalid",
                                               help="Send batches failing the checks (to quarantine).")] = False,
    resend: Annotated[list[str] | None, typer.Option("--resend",
                                                     help="Send this batch one round more (repeatable).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Send every complete, valid batch in the outbox; never listens for a reply (there can be none)."""
    from network.ferry.sender import SendError, SendOptions, run_sender

    host, port = _endpoint(to, "--to")
    opts = SendOptions(host, port, rate, k, parity, shard_size, rounds, round_gap, max_batch_bytes=max_batch_mb << 20,
                       send_invalid=send_invalid)
    try:
        summary = run_sender(outbox, state, opts, once=not watch, interval=interval, resend=tuple(resend or ()),
                             log=_log)
    except SendError as e:
        raise JinbaoError(str(e), entry="send") from None
    except OSError as e:
        raise JinbaoError(e.strerror or str(e), file=e.filename, entry="send") from None
    print(json.dumps(summary) if as_json else
          f"sent {summary['rounds']} batch rounds, {summary['datagrams']} datagrams, {summary['bytes']} bytes")


@app.command("receive")
def receive_cmd(
    listen: Annotated[str, typer.Option("--listen", help="ADDRESS:PORT to receive on.")],
    inbox: Annotated[Path, typer.Option("--inbox", help="Decision-zone inbox: verified batches appear here.")],
    quarantine: Annotated[Path, typer.Option("--quarantine", help="Where anything bad goes, with its reason.")],
    state: StateOpt,
    incomplete_after: Annotated[float, typer.Option("--incomplete-after",
                                                    help="Give up a partial batch after this silence (s).")] = 120.0,
    on_deliver: Annotated[str | None, typer.Option("--on-deliver",
                                                   help="Command run per delivered batch (dir appended).")] = None,
    max_batch_mb: Annotated[int, typer.Option("--max-batch-mb", help="Ignore bigger transfers.")] = 256,
    as_json: JsonOpt = False,
) -> None:
    """Receive until SIGTERM/SIGINT; deliver verified batches atomically, quarantine the rest."""
    from network.ferry.receiver import ReceiveOptions, Receiver

    host, port = _endpoint(listen, "--listen")
    opts = ReceiveOptions(host, port, incomplete_after, max_batch_mb << 20, on_deliver)
    try:
        final = Receiver(inbox, quarantine, state, opts, log=_log).serve()
    except OSError as e:
        raise JinbaoError(e.strerror or str(e), file=e.filename, entry="receive") from None
    print(json.dumps(final) if as_json else
          f"delivered {final['delivered']}, quarantined {final['quarantined']}, "
          f"duplicates suppressed {final['duplicates_suppressed']}")


@app.command("status")
def status_cmd(state: StateOpt, as_json: JsonOpt = False) -> None:
    """What a state directory says: rounds sent, batches delivered, quarantined, failed hooks."""
    from network.ferry.status import summarise

    if not state.is_dir():
        raise JinbaoError("not a directory", file=str(state), entry="--state")
    s = summarise(state)
    if as_json:
        print(json.dumps(s, ensure_ascii=False, indent=1))
        return
    if "sender" in s:
        print(f"sender: {s['sender']['batches']} batches")
        for name, r in s["sender"]["rounds"].items():
            print(f"  {name}: {r['rounds']} rounds")
        for r in s["sender"]["refused"]:
            print(f"  {r['batch']}: not sent: {r['reason']}")
    if "receiver" in s:
        r = s["receiver"]
        print(f"receiver: {r['delivered']} delivered, {len(r['quarantined'])} quarantined, "
              f"{len(r['hook_failed'])} hooks failed")
        for q in r["quarantined"]:
            print(f"  quarantine/{q['dir']}: {q['reason']}")
    if len(s) == 1:
        print("no ferry journal here")


def _loader_dsn(dsn: str | None, server: str | None, lab: str | None) -> str:
    """The decision database: `--dsn`, else the decision server `--server` as the Ansible inventory places it
    (verified TLS against the project CA). Never a password here: libpq reads PGPASSWORD or the passfile."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    from network.ferry.load import decision_dsn

    if dsn and server:
        raise JinbaoError("give --dsn or --server, not both", entry="--server")
    if server:
        import tempfile

        from core.playbooks import LAB_VAULT_PASSWORD
        from dr.access import addresses, ca_file
        from dr.sources import ansible_inventory

        with tempfile.TemporaryDirectory(prefix="jinbao-ferry-") as tmp:
            addr = addresses(ansible_inventory(lab, Path(tmp)), LAB_VAULT_PASSWORD if lab else None)
        if server not in addr:
            raise JinbaoError(f"{server} is not in the Ansible inventory", entry="--server")
        return decision_dsn(addr[server], ca=ca_file(lab))
    if not dsn:
        raise JinbaoError("no decision database: give --dsn (or JINBAO_DECISION_DSN) or --server", entry="--dsn")
    try:
        params = conninfo_to_dict(dsn)
    except ProgrammingError as e:
        raise JinbaoError(" ".join(str(e).split()), entry="--dsn") from None
    if "password" in params:
        raise JinbaoError("no password in the connection string (it would show in the process list and shell "
                          "history): use PGPASSFILE or PGPASSWORD", entry="--dsn")
    return dsn


@app.command("load")
def load_cmd(
    ctx: typer.Context,
    inbox: Annotated[Path, typer.Option("--inbox", help="The decision-zone inbox the receiver delivers into.")],
    state: Annotated[Path, typer.Option("--state", help="The receiver's state directory (its journal says what "
                                                        "was delivered and verified).")],
    batches: Annotated[list[str] | None, typer.Argument(
        help="Batch ids or inbox directories (as --on-deliver passes them); default: every batch.")] = None,
    dsn: Annotated[str | None, typer.Option("--dsn", envvar="JINBAO_DECISION_DSN",
                                            help="libpq connection string of the decision database, no password "
                                                 "(PGPASSFILE / PGPASSWORD).")] = None,
    server: Annotated[str | None, typer.Option("--server", help="Decision server host name (e.g. "
                                                                "JB-100000-DC-DS01): address from the inventory, "
                                                                "verified TLS.")] = None,
    lab: Annotated[str | None, typer.Option("--lab", help="With --server: the lab of this name.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Load delivered, verified batches into the decision database: one transaction per batch, never twice.

    Quarantined, undelivered or changed batches and bad CSV (header, width, types) are refused with one line
    naming the batch, file and line; nothing of a refused batch is loaded. Exit 2 when a batch failed."""
    import psycopg

    from network.ferry.load import load_inbox

    del ctx
    target = _loader_dsn(dsn, server, lab)
    if not state.is_dir():
        raise JinbaoError("not a directory (the receiver's --state)", file=str(state), entry="--state")

    def connect() -> psycopg.Connection:
        try:
            return psycopg.connect(target, connect_timeout=10)
        except psycopg.OperationalError as e:
            raise JinbaoError(f"cannot connect to the decision database: {' '.join(str(e).split())}",
                              entry="--dsn") from None

    try:
        results = load_inbox(connect, inbox, state, batches or None, log=_log)
    except ValueError as e:  # LoadError: the inbox itself is unusable
        raise JinbaoError(str(e), entry="--inbox") from None
    if as_json:
        print(json.dumps({"batches": [r.as_dict() for r in results]}, ensure_ascii=False))
    else:
        for r in results:
            print(f"{r.batch}: {r.status}" + (f", {r.rows} rows into {r.table} in {r.seconds} s"
                                              if r.status == "loaded" else ""))
    failed = [r for r in results if r.status == "failed"]
    if failed:
        raise JinbaoError(f"{failed[0].error}" + (f" (and {len(failed) - 1} more batches failed)"
                                                   if len(failed) > 1 else ""))


@app.command("schema")
def schema_cmd(
    ctx: typer.Context,
    owner: Annotated[str, typer.Option("--owner", help="Role the tables belong to (the database owner).")] =
    "jb_decision_owner",
) -> None:
    """Print the decision database's DDL for the loader (load log, dataset tables) as one psql script:
    `jinbao ferry schema | sudo -u postgres psql -d jb_decision` on the decision server, once."""
    from network.ferry.load import schema_sql

    del ctx
    try:
        script = schema_sql(owner=owner)
    except ValueError as e:  # LoadError: the owner is no plain role name
        raise JinbaoError(str(e), entry="--owner") from None
    sys.stdout.write(script)
