#!/usr/bin/env bash
# A one-node SLURM cluster on this machine (slurmctld + slurmd + munge), for the `slurm` tests
# and for trying hydra/launcher=slurm_* on a workstation. Needs root and Debian's slurm-wlm and
# munge packages (apt-get install -y slurm-wlm munge).
#
#   scripts/slurm-local.sh start    # idempotent: does nothing when the cluster already answers
#   scripts/slurm-local.sh status   # exit 0 when the node is up
#   scripts/slurm-local.sh stop     # idempotent: ends the three daemons it started
#
# slurm.conf is generated from `hostname`, `nproc` and the memory of this machine into
# /etc/slurm/slurm.conf (the path sbatch, srun and submitit read); state and logs go to
# $SLURM_LOCAL_DIR (default /var/lib/slurm-local). Accounting is off, and so is its job
# gathering: nothing needs slurmdbd.
set -euo pipefail

STATE=${SLURM_LOCAL_DIR:-/var/lib/slurm-local}
CONF=/etc/slurm/slurm.conf
PARTITION=local
MUNGE_PID=/run/munge/munged.pid

write_conf() {
    local host cpus mem_mb
    host=$(hostname -s)
    cpus=$(nproc)
    mem_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
    mkdir -p "$STATE/ctld" "$STATE/d" /etc/slurm
    cat >"$CONF" <<EOF
# Written by scripts/slurm-local.sh: a one-node cluster on $host.
ClusterName=local
# One node on the loopback address: no name lookup needed.
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# A requeued job waits cred_expire seconds before it starts again (default 120).
AuthInfo=cred_expire=10
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
# Schedule every 2 s (default 30-60 s): a requeued job starts soon after cred_expire.
SchedulerParameters=sched_interval=2,bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobRequeue=1
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
    if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
        return
    fi
    if [[ ! -s /etc/munge/munge.key ]]; then
        mungekey --create --keyfile /etc/munge/munge.key
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    chown munge:munge /run/munge /var/lib/munge /var/log/munge
    runuser -u munge -- munged --pid-file="$MUNGE_PID"
}

# True when our slurmctld runs (no waiting for an absent one) and reports the node usable.
node_up() {
    pidof_file "$STATE/slurmctld.pid" >/dev/null &&
        sinfo -h -o '%T' -p "$PARTITION" 2>/dev/null | grep -qE '^(idle|mixed|allocated|completing)$'
}

start() {
    if node_up; then
        echo "slurm-local: already running (partition $PARTITION)"
        return
    fi
    write_conf
    start_munge
    pidof_file "$STATE/slurmctld.pid" >/dev/null || slurmctld
    pidof_file "$STATE/slurmd.pid" >/dev/null || slurmd
    for _ in $(seq 60); do
        if node_up; then
            echo "slurm-local: up, partition $PARTITION on $(hostname -s) ($(nproc) CPUs)"
            return
        fi
        sleep 1
    done
    echo "slurm-local: the node did not come up; see $STATE/slurmctld.log and slurmd.log" >&2
    exit 1
}

# The pid in a pid file when that process is alive.
pidof_file() {
    [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null && cat "$1"
}

stop_daemon() {
    local pid
    pid=$(pidof_file "$1") || return 0
    kill "$pid"
    for _ in $(seq 30); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.5
    done
    kill -9 "$pid" 2>/dev/null || true
}

stop() {
    if [[ -f $CONF ]] && pidof_file "$STATE/slurmctld.pid" >/dev/null; then
        scancel --full --partition="$PARTITION" 2>/dev/null || true
    fi
    stop_daemon "$STATE/slurmd.pid"
    stop_daemon "$STATE/slurmctld.pid"
    stop_daemon "$MUNGE_PID"
    echo "slurm-local: stopped"
}

status() {
    if node_up; then
        sinfo -p "$PARTITION"
    else
        echo "slurm-local: not running"
        return 1
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
