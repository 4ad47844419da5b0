"""The control node's deploy lock (network/deploy/lock.py): a deploy and a drill's address move never
interleave; the second is refused at once, naming the first; the lock goes with its process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import JinbaoError
from network.deploy.lock import deploy_lock

HOLD = """
import sys, time
from pathlib import Path
from network.deploy.lock import deploy_lock
with deploy_lock("jinbao dr drill switchover 140000-DC", Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_second_holder_is_refused_naming_the_first(tmp_path: Path) -> None:
    lock = tmp_path / "deploy.lock"
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(lock)], stdout=subprocess.PIPE, text=True,
                         cwd=Path(__file__).resolve().parents[2])
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "held"
        with pytest.raises(JinbaoError) as e, deploy_lock("jinbao deploy", lock):
            pass
        msg = str(e.value)
        assert "jinbao dr drill switchover 140000-DC (pid " in msg and str(lock) in msg and "\n" not in msg
    finally:
        p.kill()  # the holder dies without letting go: the lock goes with it
        p.wait()
    with deploy_lock("jinbao deploy", lock):
        assert lock.read_text().startswith("jinbao deploy (pid ")
    assert lock.read_text() == ""  # released: nobody named


def test_jinbao_deploy_is_refused_while_a_drill_holds_the_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`jinbao deploy` (not a dry run) takes the lock before it plans anything: one line, non-zero, nothing
    pushed (dr/drill.py holds it for a drill's address move: tests/disaster/test_service_drill_units.py)."""
    lock = tmp_path / "deploy.lock"
    monkeypatch.setenv("JINBAO_DEPLOY_LOCK", str(lock))
    with deploy_lock("jinbao dr drill --site 140000-DC --mode switchover", lock):
        r = subprocess.run([sys.executable, "-m", "jinbao.cli", "deploy", "--scope", "140000-DC"],
                           capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[2])
    assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "jinbao dr drill --site 140000-DC --mode switchover (pid" in r.stderr


def test_each_network_has_its_own_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Labs side by side on one machine (the test suite's two lab tracks) deploy and drill at once: a lab's
    lock is its own; the same lab, or the real network, twice is refused."""
    monkeypatch.delenv("JINBAO_DEPLOY_LOCK", raising=False)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setattr("os.access", lambda *_a, **_k: False)  # not /run/lock: the temporary directory
    from network.deploy.lock import lock_path

    assert {lock_path(None).name, lock_path("jbck").name, lock_path("jbdr").name} == {
        "jinbao-deploy.lock", "jinbao-deploy-lab-jbck.lock", "jinbao-deploy-lab-jbdr.lock"}
    with deploy_lock("jinbao dr drill --lab jbdr", lab="jbdr"), deploy_lock("jinbao deploy --lab jbck", lab="jbck"), \
            deploy_lock("jinbao deploy", lab=None):
        for lab in ("jbdr", "jbck", None):
            with pytest.raises(JinbaoError), deploy_lock("second", lab=lab):
                pass
