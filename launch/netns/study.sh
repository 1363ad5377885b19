#!/bin/bash
# study.sh: the actor-scaling study through a modelled network, on one machine (root). The
# learner and NODES groups of actors live in their own Linux network namespaces ("nodes"),
# joined by a bridge in a "switch" namespace over veth pairs; the learner's link alone is
# rate-limited, both ways, with `tc qdisc tbf` (no netem: not every kernel has it). For each
# learner link rate, hidden width and relay setting it runs `cgrpo scaling` in the learner's
# namespace, its actors spread over the nodes by launch/netns/spread.sh (with relays: one
# `cgrpo relay` per node). Only the namespaces' own addresses (10.201.0.0/24) are used; every
# namespace goes away at exit, whatever happens.
#
#   sudo launch/netns/study.sh OUT_DIR [--rates 1gbit,10gbit] [--hidden 64,256]
#        [--actors 8,16,32,64] [--nodes 4] [--relays off,on] [--sim sleep:1000]
#        [-- more cgrpo scaling options]
#
# OUT_DIR/RATE-hH-relayR/ holds each study (scaling.csv, its table, run directories);
# OUT_DIR/summary.csv one row per (rate, hidden, relay, actors); OUT_DIR/network-*.png the plots
# (gnuplot). CGRPO names the executable (default: build/launch/cgrpo of this checkout).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
die() { echo "study.sh: $*" >&2; exit 1; }

(($# >= 1)) || die "usage: sudo $0 OUT_DIR [--rates LIST] [--hidden LIST] [--actors LIST] [--nodes N] [--relays off,on] [--sim SIM] [-- scaling options]"
out=$1
shift
rates=1gbit,10gbit hidden=64,256 actors=8,16,32,64 nodes=4 relays=off,on sim=sleep:1000
while (($#)); do
    case $1 in
    --rates) rates=$2; shift 2 ;;
    --hidden) hidden=$2; shift 2 ;;
    --actors) actors=$2; shift 2 ;;
    --nodes) nodes=$2; shift 2 ;;
    --relays) relays=$2; shift 2 ;;
    --sim) sim=$2; shift 2 ;;
    --) shift; break ;;
    *) die "unknown option '$1' (hint: $0 with no arguments prints the usage)" ;;
    esac
done
extra=("$@")
CGRPO=${CGRPO:-$root/build/launch/cgrpo}
[[ $(id -u) == 0 ]] || die "needs root for network namespaces (hint: sudo $0 ...)"
command -v ip >/dev/null && command -v tc >/dev/null || die "needs ip and tc (Debian: iproute2)"
[[ -x $CGRPO ]] || die "no cgrpo at $CGRPO (hint: build first, or export CGRPO=/path/to/cgrpo)"
[[ $nodes =~ ^[1-9][0-9]?$ ]] || die "--nodes wants 1..99, got '$nodes'"
mkdir -p "$out" || die "cannot create $out"
out=$(cd "$out" && pwd)

tag=cg$$
sw=${tag}s lns=${tag}l
node_ns=()
for ((k = 1; k <= nodes; k++)); do node_ns+=("${tag}n$k"); done
child=
work=$(mktemp -d /tmp/cg-netns.XXXXXX)
cleanup() {
    [[ -n $child ]] && kill -TERM "$child" 2>/dev/null && wait "$child" 2>/dev/null
    for ns in "$lns" "${node_ns[@]}" "$sw"; do ip netns del "$ns" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# A copy of the executable: a rebuild while the study runs changes nothing here.
cp "$CGRPO" "$work/cgrpo" || die "cannot copy $CGRPO"
CGRPO=$work/cgrpo

# The network: switch namespace with a bridge; the learner and each node on a veth pair.
ip netns add "$sw" && ip -n "$sw" link add br0 type bridge && ip -n "$sw" link set br0 up \
    && ip -n "$sw" link set lo up || die "cannot create namespaces (root? a kernel with netns?)"
join() { # join NAMESPACE ADDRESS PORT_NAME
    ip netns add "$1" && ip link add "${tag}$3" type veth peer name "${tag}$3p" \
        && ip link set "${tag}$3" netns "$1" && ip link set "${tag}$3p" netns "$sw" \
        && ip -n "$1" link set "${tag}$3" name eth0 && ip -n "$1" addr add "$2/24" dev eth0 \
        && ip -n "$1" link set eth0 up && ip -n "$1" link set lo up \
        && ip -n "$sw" link set "${tag}$3p" master br0 && ip -n "$sw" link set "${tag}$3p" up
}
join "$lns" 10.201.0.1 l || die "cannot set up the learner's namespace"
for ((k = 1; k <= nodes; k++)); do
    join "${node_ns[k-1]}" "10.201.0.$((10 + k))" "n$k" || die "cannot set up node $k"
done
# The learner's link, both ways: its own egress (broadcasts) and the switch port towards it
# (ingest). tbf's burst must hold a GSO segment (64 KiB) and a timer tick's worth of bytes.
shape() { # shape RATE
    local burst=512kb
    [[ $1 == 10gbit || $1 == 100gbit ]] && burst=4mb
    for spec in "$lns eth0" "$sw ${tag}lp"; do
        read -r ns dev <<< "$spec"
        tc -n "$ns" qdisc replace dev "$dev" root tbf rate "$1" burst "$burst" latency 100ms \
            || die "tc tbf on $dev failed"
    done
}

keys=$out/keys
[[ -f $keys/learner.key ]] || "$CGRPO" keygen "$keys" >/dev/null || die "cgrpo keygen failed"
export CG_NETNS_NODES="${node_ns[*]}" OPENBLAS_NUM_THREADS=1
summary=$out/summary.csv
echo "rate,hidden,relay,actors,env_steps_per_s,groups_per_s,ingest_MB_per_s,latency_p50_ms,latency_p99_ms,busy_frac,msg_bytes,raw_msgs_per_s,ingest_frac" > "$summary"
IFS=, read -r -a rate_list <<< "$rates"
IFS=, read -r -a hidden_list <<< "$hidden"
IFS=, read -r -a relay_list <<< "$relays"
for rate in "${rate_list[@]}"; do
    shape "$rate"
    for h in "${hidden_list[@]}"; do
        for r in "${relay_list[@]}"; do
            [[ $r == on || $r == off ]] || die "--relays wants off and/or on, got '$r'"
            dir=$out/$rate-h$h-relay$r
            echo "study.sh: learner link $rate, hidden $h,$h, relays $r -> $dir"
            # In the background, so that a signal to this script stops it at once (cleanup).
            CG_NETNS_RELAY=$([[ $r == on ]] && echo 1 || echo 0) \
                ip netns exec "$lns" "$CGRPO" scaling --actors "$actors" --sim "$sim" \
                --launch "$here/spread.sh" --out "$dir" --set learner.bind=10.201.0.1 \
                --set "learner.curve_secret_key=$keys/learner.key" \
                --set "learner.curve_public_key=$keys/learner.pub" \
                --set "run.token_file=$keys/token" --set "policy.hidden=$h,$h" "${extra[@]}" \
                > "$dir.txt" 2>&1 &
            child=$!
            tail -n +1 --pid="$child" -f "$dir.txt" 2>/dev/null &
            wait "$child"
            child=
            sleep 0.2
            [[ -f $dir/scaling.csv ]] || die "no $dir/scaling.csv (see $dir.txt)"
            # sim,actors,env_steps_per_s,groups_per_s,trained,busy,p50,p99,samples,lag,
            # dropped,rejected,msg_bytes,groups_per_msg,raw_msgs,raw_groups,ingest_frac,...
            awk -F, -v rate="$rate" -v h="$h" -v r="$r" 'NR > 1 && $3 != "" {
                printf "%s,%s,%s,%s,%s,%s,%.3f,%s,%s,%s,%s,%s,%s\n", rate, h, r, $2, $3, $4,
                       $4 / $14 * $13 / 1e6, $7, $8, $6, $13, $15, $17 }' \
                "$dir/scaling.csv" >> "$summary"
        done
    done
done

# Plots: per hidden width, p99 broadcast latency and env-steps/s against actors, one line
# per (learner link, relays).
if command -v gnuplot >/dev/null; then
    IFS=, read -r -a counts <<< "$actors"
    xlo=$(printf '%s\n' "${counts[@]}" | sort -n | head -1) xhi=$(printf '%s\n' "${counts[@]}" | sort -n | tail -1)
    xlo=$(awk -v x="$xlo" 'BEGIN { print x / 1.5 }') xhi=$(awk -v x="$xhi" 'BEGIN { print x * 1.5 }')
    for h in "${hidden_list[@]}"; do
        plots_lat=() plots_thr=()
        for rate in "${rate_list[@]}"; do
            for r in "${relay_list[@]}"; do
                series=$out/.series-$rate-h$h-relay$r.dat
                awk -F, -v rate="$rate" -v h="$h" -v r="$r" \
                    '$1 == rate && $2 == h && $3 == r { print $4, $5, $9 }' "$summary" > "$series"
                plots_lat+=("'$series' using 1:3 with linespoints lw 2 title '$rate, relays $r'")
                plots_thr+=("'$series' using 1:2 with linespoints lw 2 title '$rate, relays $r'")
            done
        done
        gnuplot <<GP
set terminal pngcairo size 1200,480
set output '$out/network-h$h.png'
set multiplot layout 1,2 title 'learner link rate-limited (tbf), $nodes node namespaces, hidden $h,$h'
set logscale x 2
set xrange [$xlo:$xhi]
set xlabel 'actors'
set grid
set key top left
set ylabel 'weight broadcast latency p99 (ms)'
plot $(IFS=,; echo "${plots_lat[*]}")
set ylabel 'env-steps/s'
plot $(IFS=,; echo "${plots_thr[*]}")
unset multiplot
GP
        rm -f "$out"/.series-*-h$h-*.dat
    done
fi
echo "study.sh: summary in $summary"
column -s, -t "$summary"
