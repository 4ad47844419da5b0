"""core/playbooks.run on a real (trivial, local) playbook: the recap is read while ansible-runner's artifacts
still exist (read after its temporary directory was gone, every build waited 60 s and then failed)."""

from __future__ import annotations

from pathlib import Path

from core import playbooks

PLAY = """- name: One task on the control node
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
"""


def test_run_returns_the_recap_and_streams_events(tmp_path: Path) -> None:
    (tmp_path / "play.yml").write_text(PLAY)
    events: list[str] = []
    r = playbooks.run(tmp_path / "play.yml", "localhost,", event_handler=lambda e: events.append(e["event"]) or True)
    assert (r.rc, r.status) == (0, "successful")
    assert r.stats is not None and r.stats["ok"] == {"localhost": 1}
    assert "playbook_on_task_start" in events
