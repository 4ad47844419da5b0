#!/usr/bin/env bash
# Installs the Debian packages jinbao needs on the control host, idempotently (--check: only say what is missing).
# Daemons are not started on the host: the lab runs its own copies inside namespaces.
set -euo pipefail

PKGS=(
  iproute2 util-linux procps psmisc iputils-ping nftables
  debootstrap
  openssh-client openssh-server
  frr frr-snmp frr-pythontools
  snmp snmpd
  postgresql-15 postgresql-client-15
  graphviz fonts-wqy-zenhei
  golang-go golang-github-vmware-govmomi-dev
  git rsync python3-venv
  udpcast  # the field tool the ferry benchmark compares against (bench/ferry.py)
  chromium  # headless browser: make run checks its index in it (jinbao/indexcheck.py), the tests the reports
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-host: all ${#PKGS[@]} Debian packages present"
  exit 0
fi
if [ "${1:-}" = "--check" ]; then  # say what is missing, install nothing (the end-to-end test's pre-check)
  echo "setup-host: missing Debian packages (${missing[*]})" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "setup-host: missing Debian packages (${missing[*]}); run 'make setup' as root" >&2
  exit 1
fi
echo "setup-host: installing ${missing[*]}"
# Keep maintainer scripts from starting frr/snmpd/sshd/postgresql on the host itself.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Packages we just installed must not start their daemons on the host at the next boot either: the lab runs
# its own copies in namespaces. Only units of packages this run installed are touched (an operator's own
# sshd/postgresql, installed before, keep their state).
for pair in "openssh-server:ssh" "frr:frr" "snmpd:snmpd" "postgresql-15:postgresql"; do
  pkg=${pair%%:*}; unit=${pair##*:}
  if [[ " ${missing[*]} " == *" $pkg "* ]] && command -v systemctl >/dev/null; then
    systemctl --root=/ disable --quiet "$unit" 2>/dev/null || true  # --root: works without a running systemd
  fi
done
