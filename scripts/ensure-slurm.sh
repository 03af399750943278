#!/usr/bin/env bash
# Brings up a single-node Slurm on this host for test/pipeline/slurm_test.ts (the sbatch example
# run for real): installs Debian's `slurm-wlm` and `munge` when missing, writes a minimal
# slurm.conf for this host (its real core count and memory, one partition `debug`, no cgroups so
# it works in a container: proctrack/linuxproc, task/none, no accounting), creates the munge key,
# starts munged, slurmctld and slurmd and waits until `sinfo` shows the node idle.
#
# Idempotent: a running, idle cluster is left as it is. Exits non-zero with the reason on stderr
# when it cannot (not root, no apt-get, install or start failed, node not idle in time); .ci/run
# then goes on and the test skips with that reason.
#
#   bash scripts/ensure-slurm.sh            # or SLURM_WAIT_SECONDS=60 bash scripts/ensure-slurm.sh
set -euo pipefail

say() { echo "ensure-slurm: $*"; }
die() { echo "ensure-slurm: $*" >&2; exit 1; }

node=$(hostname -s)
conf_dir=/etc/slurm
conf=$conf_dir/slurm.conf
wait_seconds=${SLURM_WAIT_SECONDS:-60}

node_idle() {
  command -v sinfo >/dev/null || return 1
  local state
  state=$(timeout 10 sinfo -h -n "$node" -o '%t' 2>/dev/null | head -n1 || true)
  case "$state" in idle | idle* | mix | alloc) return 0 ;; *) return 1 ;; esac
}

if node_idle; then
  say "node $node is up ($(sinfo -h -n "$node" -o '%t %c CPUs %m MB'))"
  exit 0
fi

[ "$(id -u)" = 0 ] || die "not root; cannot install or start Slurm (run as root or start it yourself)"

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  command -v apt-get >/dev/null || die "no apt-get; install slurm-wlm and munge by hand"
  export DEBIAN_FRONTEND=noninteractive
  say "installing slurm-wlm and munge"
  apt-get update -qq >/dev/null || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null ||
    die "apt-get install slurm-wlm munge failed"
fi

# munge: one key shared by the controller and the node daemon (both on this host).
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  if command -v mungekey >/dev/null; then
    mungekey --create --force >/dev/null 2>&1 || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  else
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
fi
chown munge:munge /etc/munge/munge.key 2>/dev/null || true
chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  if [ "$(id -un munge 2>/dev/null)" = munge ]; then
    su -s /bin/sh munge -c /usr/sbin/munged || runuser -u munge -- /usr/sbin/munged || die "munged did not start"
  else
    /usr/sbin/munged --force || die "munged did not start"
  fi
  for _ in $(seq 1 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
  munge -n 2>/dev/null | unmunge >/dev/null 2>&1 || die "munge does not answer (munge -n | unmunge failed)"
fi

# This host's real resources: what slurmd -C detects, with 1 GiB of memory left to the system.
cpus=$(nproc --all)
mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
real_mb=$((mem_mb > 2048 ? mem_mb - 1024 : mem_mb))
detected=$(slurmd -C 2>/dev/null | head -n1 || true)
sockets=$(sed -n 's/.*SocketsPerBoard=\([0-9]*\).*/\1/p' <<<"$detected")
cores=$(sed -n 's/.*CoresPerSocket=\([0-9]*\).*/\1/p' <<<"$detected")
threads=$(sed -n 's/.*ThreadsPerCore=\([0-9]*\).*/\1/p' <<<"$detected")
topology=""
if [ -n "$sockets" ] && [ -n "$cores" ] && [ -n "$threads" ] && [ $((sockets * cores * threads)) = "$cpus" ]; then
  topology=" Sockets=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads"
fi

mkdir -p "$conf_dir" /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/slurm
want=$(cat <<EOF
# Written by harmony-engine scripts/ensure-slurm.sh: one node (this host), one partition, no
# cgroups (works in a container), no accounting database.
ClusterName=harmony
SlurmctldHost=$node
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
MinJobAge=300
KillWait=10
Waittime=0
MaxArraySize=1001
NodeName=$node CPUs=$cpus$topology RealMemory=$real_mb State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
)
restart=0
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$want" ]; then
  printf '%s\n' "$want" >"$conf"
  restart=1
fi
# No cgroup.conf: Slurm 22.05 has no `CgroupPlugin=disabled` (slurmd then fails to start), and
# without the file it does not need cgroups with the plugins above.

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

if [ "$restart" = 1 ]; then
  for f in /run/slurm/slurmd.pid /run/slurm/slurmctld.pid; do
    if pid_alive "$f"; then kill "$(cat "$f")" 2>/dev/null || true; fi
  done
  sleep 1
fi
if ! pid_alive /run/slurm/slurmctld.pid; then
  slurmctld -i >/dev/null 2>&1 || die "slurmctld did not start (see /var/log/slurm/slurmctld.log: $(tail -n 3 /var/log/slurm/slurmctld.log 2>/dev/null | tr '\n' ' '))"
fi
if ! pid_alive /run/slurm/slurmd.pid; then
  slurmd >/dev/null 2>&1 || die "slurmd did not start (see /var/log/slurm/slurmd.log: $(tail -n 3 /var/log/slurm/slurmd.log 2>/dev/null | tr '\n' ' '))"
fi

for _ in $(seq 1 "$wait_seconds"); do
  if node_idle; then
    say "node $node is up ($(sinfo -h -n "$node" -o '%t %c CPUs %m MB'))"
    exit 0
  fi
  state=$(timeout 5 sinfo -h -n "$node" -o '%t' 2>/dev/null | head -n1 || true)
  case "$state" in down* | drain* | drng*) scontrol update nodename="$node" state=resume >/dev/null 2>&1 || true ;; esac
  sleep 1
done
die "node $node not idle after ${wait_seconds}s (sinfo: $(timeout 5 sinfo -h -o '%n %t %E' 2>&1 | tr '\n' ' '); slurmd log: $(tail -n 3 /var/log/slurm/slurmd.log 2>/dev/null | tr '\n' ' '))"
