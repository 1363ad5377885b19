#!/usr/bin/env bash
# local-cluster.sh: a single-node Slurm cluster on 127.0.0.1 (munged, slurmctld, slurmd from
# Debian's slurm-wlm packages) to try launch/slurm/cgrpo.sbatch on one machine, and for
# tests/slurm_test.sh. Needs root (the daemons run as root). All traffic stays on loopback;
# only processes whose PIDs this script recorded are ever signalled.
#
#   local-cluster.sh install   apt-get install slurmctld slurmd slurm-client munge (if missing)
#   local-cluster.sh start     write a config in $CG_SLURM_DIR, start the daemons, wait for the node
#   local-cluster.sh stop      cancel jobs, stop the daemons started by `start`
#   local-cluster.sh env       print `export SLURM_CONF=...` for the shell that submits jobs
#
# Knobs: CG_SLURM_DIR (work dir, default ${TMPDIR:-/tmp}/cgrpo-slurm), CG_SLURM_CPUS (CPUs the
# node advertises, may exceed the cores: default 8), CG_SLURM_PORT (slurmctld port; slurmd
# uses the next one; default 6917).
# Adapted from the single-node recipe in the project's shared notes (slurm-single-node.sh).
set -euo pipefail

DIR=${CG_SLURM_DIR:-${TMPDIR:-/tmp}/cgrpo-slurm}
DIR=${DIR%/}
CPUS=${CG_SLURM_CPUS:-8}
CTLD_PORT=${CG_SLURM_PORT:-6917}
SLURMD_PORT=$((CTLD_PORT + 1))
PACKAGES=(slurmctld slurmd slurm-client munge)
export SLURM_CONF="$DIR/etc/slurm.conf"

log() { printf '[local-cluster %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

do_install() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    log "installing ${missing[*]}"
    # Keep apt from starting the system's munge/slurm services (a temporary policy-rc.d).
    local made=0 rc=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made=1
    fi
    { apt-get update -q >/dev/null &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; } || rc=$?
    ((made)) && rm -f /usr/sbin/policy-rc.d
    ((rc == 0)) || die "apt-get failed ($rc)"
}

# A PID is ours when it is alive and its command line names our work dir.
ours() { [[ -n "${1:-}" && -r /proc/$1/cmdline ]] && tr '\0' ' ' < "/proc/$1/cmdline" | grep -qF "$DIR/"; }
pid_of() { [[ -s "$DIR/run/$1.pid" ]] && cat "$DIR/run/$1.pid" || true; }
wait_gone() { # wait_gone SECONDS PID...
    local deadline=$((SECONDS + $1)) p alive; shift
    while :; do
        alive=0; for p in "$@"; do ours "$p" && alive=1; done
        ((alive)) || return 0
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

do_stop() {
    [[ -d "$DIR/run" ]] || return 0
    local ctld slurmd munged p jobs
    ctld=$(pid_of slurmctld); slurmd=$(pid_of slurmd); munged=$(pid_of munged)
    if ours "$ctld"; then
        jobs=$(timeout 10 squeue -h -o %i 2>/dev/null || true)
        # shellcheck disable=SC2086
        [[ -n $jobs ]] && { timeout 10 scancel $jobs 2>/dev/null || true; sleep 2; }
        timeout 10 scontrol shutdown >/dev/null 2>&1 || true
        wait_gone 15 "$ctld" "$slurmd" || true
    fi
    for p in "$ctld" "$slurmd" "$munged"; do
        if ours "$p"; then
            kill -TERM "$p" 2>/dev/null || true
            wait_gone 10 "$p" || { ours "$p" && kill -KILL "$p" 2>/dev/null || true; }
        fi
    done
    rm -f "$DIR"/run/*.pid
    log "stopped"
}

start_bg() { # start_bg NAME CMD...: a foreground daemon in the background, its PID recorded
    local name=$1; shift
    "$@" </dev/null >>"$DIR/log/$name.out" 2>&1 &
    echo $! > "$DIR/run/$name.pid"
}

do_start() {
    [[ $(id -u) == 0 ]] || die "the daemons run as root here (hint: run as root, or use a real cluster)"
    command -v slurmctld >/dev/null || die "slurmctld not installed (hint: $0 install)"
    [[ $DIR == /?*/* || $DIR == /tmp/?* ]] || die "CG_SLURM_DIR must be an absolute path two levels deep"
    do_stop
    if [[ -d $DIR && -n $(ls -A "$DIR") && ! -e $DIR/.cgrpo-local-cluster ]]; then
        die "$DIR exists and was not made by this script (hint: set CG_SLURM_DIR)"
    fi
    rm -rf "$DIR"
    mkdir -p "$DIR"/{etc,run,log,state,spool,tmp}
    touch "$DIR/.cgrpo-local-cluster"
    chmod 755 "$DIR" "$DIR/run"
    dd if=/dev/urandom of="$DIR/etc/munge.key" bs=1024 count=1 status=none
    chmod 400 "$DIR/etc/munge.key"
    local mem
    mem=$(awk '/MemTotal/ {printf "%d", $2/1024*0.8}' /proc/meminfo)
    cat > "$SLURM_CONF" <<CONF
# single-node Slurm on loopback (launch/slurm/local-cluster.sh)
ClusterName=cgrpo-local
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/run/munge.sock
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
TmpFS=$DIR/tmp
SlurmctldPidFile=$DIR/run/slurmctld.pid.slurm
SlurmdPidFile=$DIR/run/slurmd.pid.slurm
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
MinJobAge=30
MailProg=/bin/true
EnforcePartLimits=ALL
SlurmdParameters=config_overrides
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
    start_bg munged munged -F --socket="$DIR/run/munge.sock" --key-file="$DIR/etc/munge.key" \
        --pid-file="$DIR/run/munged.pid.munge" --log-file="$DIR/log/munged.log" --seed-file="$DIR/state/munged.seed"
    for _ in $(seq 50); do [[ -S $DIR/run/munge.sock ]] && break; sleep 0.1; done
    [[ -S $DIR/run/munge.sock ]] || die "munged did not start (hint: every parent of $DIR needs o+x; see $DIR/log/munged.out)"
    start_bg slurmctld slurmctld -D -f "$SLURM_CONF"
    start_bg slurmd slurmd -D -f "$SLURM_CONF" -N localhost
    local deadline=$((SECONDS + 30))
    while ((SECONDS < deadline)); do
        [[ $(timeout 5 sinfo -h -n localhost -o %T 2>/dev/null) == idle ]] && break
        ours "$(pid_of slurmctld)" && ours "$(pid_of slurmd)" || die "a daemon exited; see $DIR/log/"
        sleep 0.2
    done
    [[ $(sinfo -h -n localhost -o %T 2>/dev/null) == idle ]] || die "node not idle after 30 s: $(sinfo 2>&1)"
    log "up: export SLURM_CONF=$SLURM_CONF"
}

case ${1:-} in
    install) do_install ;;
    start) do_start ;;
    stop) do_stop ;;
    env) echo "export SLURM_CONF=$SLURM_CONF" ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
esac
