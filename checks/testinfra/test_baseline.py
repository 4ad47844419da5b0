"""The baseline role, checked on the host as its services see it (sshd -T, loaded rulesets, running daemons)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

WEAK = re.compile(r"cbc|arcfour|hmac-md5|hmac-sha1|diffie-hellman-group1-|diffie-hellman-group14-sha1|-96")


@pytest.fixture(scope="module")
def sshd(host: Any) -> dict[str, str]:
    out = host.check_output("/usr/sbin/sshd -T -C user=jbtest,host=localhost,addr=127.0.0.1")
    return {k: v for k, _, v in (line.partition(" ") for line in out.splitlines())}


def test_sshd_no_root_login(sshd: dict[str, str]) -> None:
    assert sshd["permitrootlogin"] == "no"


def test_sshd_keys_only(sshd: dict[str, str]) -> None:
    assert sshd["passwordauthentication"] == "no"
    assert sshd["kbdinteractiveauthentication"] == "no"
    assert sshd["pubkeyauthentication"] == "yes"
    assert sshd["authenticationmethods"] == "publickey"
    assert sshd["permitemptypasswords"] == "no"


def test_sshd_strong_crypto(sshd: dict[str, str]) -> None:
    for key in ("ciphers", "macs", "kexalgorithms"):
        weak = [a for a in sshd[key].split(",") if WEAK.search(a)]
        assert not weak, f"{key}: weak algorithms {weak}"
    assert all(m.endswith("-etm@openssh.com") for m in sshd["macs"].split(","))


def test_sshd_idle_timeout(host: Any, sshd: dict[str, str]) -> None:
    assert int(sshd["clientaliveinterval"]) > 0
    assert int(sshd["maxauthtries"]) <= 4
    assert "readonly TMOUT" in host.file("/etc/profile.d/jinbao-tmout.sh").content_string


def test_pam_lockout_and_quality(host: Any) -> None:
    auth = host.file("/etc/pam.d/common-auth").content_string
    assert "pam_faillock.so preauth" in auth and "pam_faillock.so authfail" in auth
    assert "pam_faillock.so" in host.file("/etc/pam.d/common-account").content_string
    assert re.search(r"^deny = [1-5]$", host.file("/etc/security/faillock.conf").content_string, re.M)
    assert "pam_pwquality.so" in host.file("/etc/pam.d/common-password").content_string
    minlen = re.search(r"^minlen = (\d+)", host.file("/etc/security/pwquality.conf").content_string, re.M)
    assert minlen and int(minlen.group(1)) >= 8
    assert "nullok" not in auth


def test_audit_rules(host: Any, hostvars: dict[str, Any]) -> None:
    compiled = host.file("/etc/audit/audit.rules").content_string
    assert "-k admin_actions" in compiled
    assert "-F path=/usr/bin/sudo -F perm=x" in compiled and "-k privileged" in compiled
    assert "max_log_file_action = keep_logs" in host.file("/etc/audit/auditd.conf").content_string
    if hostvars.get("baseline_auditd_kernel", True):  # the kernel is this host's own: rules must be loaded
        loaded = host.check_output("auditctl -l")
        assert "admin_actions" in loaded and "privileged" in loaded
        assert host.service("auditd").is_running


def test_chrony_synchronised(host: Any, hostvars: dict[str, Any]) -> None:
    servers = hostvars["jinbao_ntp_servers"]
    assert servers, "no NTP server in the host's inventory variables (jinbao_ntp_servers)"
    conf = host.file("/etc/chrony/chrony.conf").content_string
    assert all(f"server {s} " in conf for s in servers) and "pool " not in conf
    deadline = time.monotonic() + 60
    while True:
        tracking = host.run("chronyc -n tracking").stdout
        ref = re.search(r"Reference ID\s*:\s*\S+ \(([^)]+)\)", tracking)
        if ref and ref.group(1) in servers and "Leap status     : Normal" in tracking:
            break
        assert time.monotonic() < deadline, f"chrony not synchronised to {servers}:\n{tracking}"
        time.sleep(2)


def test_rsyslog_forwards_to_management(host: Any, hostvars: dict[str, Any]) -> None:
    conf = host.file("/etc/rsyslog.d/90-jinbao-forward.conf").content_string
    assert hostvars["jinbao_log_servers"], "no log server in the host's inventory variables (jinbao_log_servers)"
    for target in hostvars["jinbao_log_servers"]:
        assert f'target="{target}"' in conf
    assert host.process.filter(comm="rsyslogd")
    assert host.run("rsyslogd -N1").rc == 0


def test_nftables_loaded(host: Any, hostvars: dict[str, Any]) -> None:
    ruleset = host.check_output("nft list table inet jinbao_host")
    assert re.search(r"hook input priority filter; policy drop;", ruleset)
    assert 'comment "ssh from management"' in ruleset
    assert hostvars["jinbao_mgmt_nets"], "no management network in the host's inventory variables"
    for net in hostvars["jinbao_mgmt_nets"]:
        assert net in ruleset


def test_sysctl(host: Any, hostvars: dict[str, Any]) -> None:
    forward = int(hostvars.get("baseline_sysctl_ip_forward", 0))
    assert host.sysctl("net.ipv4.ip_forward") == forward
    assert host.sysctl("net.ipv4.conf.all.accept_redirects") == 0
    assert host.sysctl("net.ipv4.conf.all.send_redirects") == 0
    assert host.sysctl("net.ipv4.tcp_syncookies") == 1
    assert "kernel.randomize_va_space = 2" in host.file("/etc/sysctl.d/91-jinbao-kernel.conf").content_string
    if hostvars.get("baseline_sysctl_kernel_apply", True):
        assert host.sysctl("kernel.randomize_va_space") == 2


def test_snmpd_v3_only(host: Any) -> None:
    conf = host.file("/etc/snmp/snmpd.conf")
    assert conf.mode == 0o640
    text = conf.content_string
    assert not re.search(r"^\s*(rocommunity|rwcommunity|com2sec)", text, re.M)
    assert re.search(r"^rouser -s usm \S+ priv$", text, re.M)
    assert host.process.filter(comm="snmpd")


def test_login_banner(host: Any) -> None:
    for path in ("/etc/issue", "/etc/issue.net"):
        assert "Authorised use only" in host.file(path).content_string
