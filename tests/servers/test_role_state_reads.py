"""The roles' reads of packages and services: a module task is skipped when one read says it has nothing to do.

Such a skip is only safe if the read agrees with the module's own check, so, without a lab, on this machine:

- the dpkg read (both roles' tasks/packages.yml) skips apt for a list of fully installed packages, for which
  apt itself (check mode) has nothing to do, and lets apt run when one package is missing or unknown;
- the baseline's service read (tasks/state.yml) never calls a service running that `service NAME status` does
  not call running (answer 0; the service module asks the same command): SysV's `service --status-all`, which
  service_facts reads, also wants some output, so a silent status script (the lab's rsyslog shim) reads as
  stopped and its module still runs - a missed skip, never a wrong one; on SysV (as in the lab) enabled
  exactly when an S??NAME boot link exists, the module's own test (ansible.module_utils.service.sysv_is_enabled).
  A service the read does not call running and enabled goes through the service module as before;
- on a systemd host the read takes systemd's running state and `enabled` status only, and reads no boot links
  (service_facts' systemd output stood in for: this machine has no systemd).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(not Path("/usr/bin/dpkg-query").exists(), reason="needs a Debian host")


def play(tmp: Path, tasks: list[dict[str, Any]], variables: dict[str, Any], check: bool = False,
         gather: bool = False) -> dict[str, Any]:
    """Run tasks on this machine (connection local); Ansible's JSON report."""
    doc = [{"name": "reads", "hosts": "localhost", "gather_facts": gather, "vars": variables, "tasks": tasks,
            **({"gather_subset": ["!all", "!min", "service_mgr"]} if gather else {})}]
    (tmp / "play.yml").write_text(yaml.safe_dump(doc))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_STDOUT_CALLBACK": "json"}
    r = subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local",
                        "-e", "ansible_python_interpreter=/usr/bin/python3", "-e", "ansible_become=false",
                        *(["--check"] if check else []), str(tmp / "play.yml")],
                       capture_output=True, text=True, cwd=tmp, env=env, timeout=600)
    assert r.returncode == 0, (r.stdout[-6000:], r.stderr[-2000:])
    out: dict[str, Any] = json.loads(r.stdout)
    return out


def task_result(out: dict[str, Any], name: str) -> dict[str, Any]:
    res: dict[str, Any] = next(t["hosts"]["localhost"] for p in out["plays"] for t in p["tasks"]
                               if t["task"]["name"] == name)
    return res


def installed() -> list[str]:
    """A few packages dpkg lists as fully installed here."""
    r = subprocess.run(["dpkg-query", "--show", "--showformat=${db:Status-Abbrev} ${Package}\n"],
                       capture_output=True, text=True, check=True)
    names = [line.split()[-1] for line in r.stdout.splitlines() if line.startswith("ii ")]
    assert len(names) >= 3
    return sorted(names)[:3]


@pytest.mark.parametrize("role", ["baseline", "postgresql"])
def test_dpkg_read_skips_apt_only_when_apt_has_nothing_to_do(role: str, tmp_path: Path) -> None:
    tasks = yaml.safe_load((ROOT / "roles" / role / "tasks" / "packages.yml").read_text())
    install = next(t["name"] for t in tasks if "ansible.builtin.apt" in t)
    common = {f"{role}_apt_update_cache": False, f"{role}_apt_cache_valid_time": 3600}
    have = installed()
    # everything installed: apt skipped, and apt itself (check mode) would change nothing
    out = play(tmp_path, tasks, {**common, f"{role}_packages": have}, check=True)
    assert task_result(out, install).get("skipped") is True, out
    apt = [{"name": "apt itself", "ansible.builtin.apt": {"name": have, "state": "present"}}]
    assert task_result(play(tmp_path, apt, {}, check=True), "apt itself").get("changed") is False
    # one missing (unknown to apt here, so apt in check mode fails: it ran) -> not skipped
    ignoring = [{**t, "ignore_errors": True} for t in tasks]
    out = play(tmp_path, ignoring, {**common, f"{role}_packages": [*have, "jinbao-no-such-package"]}, check=True)
    assert not task_result(out, install).get("skipped"), out


def test_service_read_agrees_with_the_service_module(tmp_path: Path) -> None:
    from ansible.module_utils.service import sysv_is_enabled

    scripts = sorted(p.name for p in Path("/etc/init.d").iterdir() if p.is_file() and os.access(p, os.X_OK)
                     and p.name not in ("rc", "rcS", "README", "skeleton"))
    if len(scripts) < 4 or Path("/run/systemd/system").exists():
        pytest.skip("needs a SysV host (as the lab) with at least four init scripts")
    # enabled ones first, so the four service slots of the role hold both kinds when this host has both
    picked = sorted(scripts, key=lambda s: not sysv_is_enabled(s))[:2] + sorted(scripts, key=sysv_is_enabled)[:2]
    if len({sysv_is_enabled(s) for s in picked}) < 2:
        pytest.skip("needs init scripts both enabled and not enabled at boot")
    names = dict(zip(("baseline_service_ssh", "baseline_service_chrony", "baseline_service_rsyslog",
                      "baseline_service_snmpd"), picked, strict=True))
    tasks = yaml.safe_load((ROOT / "roles" / "baseline" / "tasks" / "state.yml").read_text())
    out = play(tmp_path, [t for t in tasks if "service" in t["name"] or "boot links" in t["name"]], names, gather=True)
    facts = task_result(out, "What is in place, services by name")["ansible_facts"]
    for s in picked:
        status = subprocess.run(["service", s, "status"], capture_output=True, timeout=60).returncode
        assert (s in facts["baseline_services_enabled"]) == sysv_is_enabled(s), (s, facts)
        if s in facts["baseline_services_running"]:  # a wrong skip; the converse only costs a module run
            assert status == 0, (s, status, facts)


# What service_facts reports on a systemd host (its systemd branch: `systemctl list-units` for the state,
# `systemctl list-unit-files` for the status), with the host's service manager. This machine has no systemd, so
# the module itself cannot run that branch here: a stand-in module returns these facts in its place.
SYSTEMD_FACTS = r"""#!/usr/bin/python3
import json
from ansible.module_utils.basic import AnsibleModule

m = AnsibleModule(argument_spec={"facts": {"type": "str"}}, supports_check_mode=True)
m.exit_json(changed=False, ansible_facts=json.loads(m.params["facts"]))
"""


def test_service_read_on_a_systemd_host_takes_systemds_word_and_no_boot_links(tmp_path: Path) -> None:
    """The systemd branch of the baseline's service read: running is systemd's `running` state, enabled exactly
    systemd's `enabled` status (static, disabled, masked, enabled-runtime, indirect are not: the service module
    would still act), and the SysV boot links are not read (a systemd host may keep S?? links from packages,
    which say nothing there). What is not run here: service_facts' own systemd branch (no systemd on this
    machine); its output is given, in the form it reports."""
    rc_linked = sorted({p.name[3:] for d in Path("/etc").glob("rc[0-6S].d") for p in d.glob("S??*")})
    # the packages scripts/setup-host.sh installs (openssh-server, snmpd, frr, postgresql) leave S?? boot links
    assert rc_linked, "no S?? boot link on this host: run `make setup` (its packages install them)"
    linked = rc_linked[0]  # has a boot link here, is "disabled" to systemd below: must not read as enabled
    services = {
        "ssh.service": {"name": "ssh.service", "state": "running", "status": "enabled", "source": "systemd"},
        "chrony.service": {"name": "chrony.service", "state": "running", "status": "static", "source": "systemd"},
        "rsyslog.service": {"name": "rsyslog.service", "state": "stopped", "status": "enabled", "source": "systemd"},
        f"{linked}.service": {"name": f"{linked}.service", "state": "stopped", "status": "disabled",
                              "source": "systemd"},
        "snmpd.service": {"name": "snmpd.service", "state": "running", "status": "masked", "source": "systemd"},
        "nftables.service": {"name": "nftables.service", "state": "inactive", "status": "enabled-runtime",
                             "source": "systemd"},
        "auditd.service": {"name": "auditd.service", "state": "running", "status": "enabled", "source": "systemd"},
    }
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "systemd_service_facts.py").write_text(SYSTEMD_FACTS)
    tasks = yaml.safe_load((ROOT / "roles" / "baseline" / "tasks" / "state.yml").read_text())
    read = [t for t in tasks if "service" in t["name"] or "boot links" in t["name"]]
    [facts_task] = [t for t in read if "ansible.builtin.service_facts" in t]
    stand_in = {"name": facts_task["name"], "systemd_service_facts": {"facts": json.dumps(
        {"services": services, "service_mgr": "systemd"})}}
    names = {"baseline_service_ssh": "ssh", "baseline_service_chrony": "chrony",
             "baseline_service_rsyslog": "rsyslog", "baseline_service_snmpd": linked}
    out = play(tmp_path, [stand_in if t is facts_task else t for t in read], names)
    assert task_result(out, "What is in place, SysV boot links").get("skipped") is True
    facts = task_result(out, "What is in place, services by name")["ansible_facts"]
    assert sorted(facts["baseline_services_running"]) == ["auditd", "chrony", "snmpd", "ssh"]
    assert sorted(facts["baseline_services_enabled"]) == ["auditd", "rsyslog", "ssh"]
    assert linked not in facts["baseline_services_enabled"]
