#!/bin/bash
# spread.sh: the actor launcher of the network-namespace study (launch/netns/study.sh): called
# by `cgrpo scaling --launch` as
#     spread.sh -n N CGRPO actor --connect HOST:PORT [--set ...]
# it starts the N actors round-robin in the "node" namespaces named by CG_NETNS_NODES
# (space-separated) and, with CG_NETNS_RELAY=1, first one `cgrpo relay` per node (in that
# node's namespace, on its loopback) that the node's actors take their weights from. It waits
# for all of them; on SIGTERM/SIGINT it stops them, by PID. Root (ip netns exec).
set -uo pipefail

die() { echo "spread.sh: $*" >&2; exit 2; }
[[ ${1:-} == -n && $# -ge 4 ]] || die "usage: spread.sh -n N CGRPO actor --connect HOST:PORT [args]"
n=$2
shift 2
cgrpo=$1
[[ $2 == actor ]] || die "expected 'CGRPO actor ...', got '$*'"
shift 2
args=("$@") # --connect HOST:PORT and the credentials (--set ...): relays take the same
read -r -a nodes <<< "${CG_NETNS_NODES:-}"
((${#nodes[@]} > 0)) || die "CG_NETNS_NODES names no namespace"
tmp=$(mktemp -d /tmp/cg-spread.XXXXXX)
pids=()
stop() {
    ((${#pids[@]})) && kill -TERM "${pids[@]}" 2>/dev/null
    sleep 1
    ((${#pids[@]})) && kill -KILL "${pids[@]}" 2>/dev/null
    rm -rf "$tmp"
    exit 0
}
trap stop TERM INT

relay=()
if [[ ${CG_NETNS_RELAY:-0} == 1 ]]; then
    for k in "${!nodes[@]}"; do
        ip netns exec "${nodes[k]}" "$cgrpo" relay "${args[@]}" --port-file "$tmp/relay$k" \
            > "$tmp/relay$k.log" 2>&1 &
        pids+=($!)
    done
    for k in "${!nodes[@]}"; do
        for _ in $(seq 100); do [[ -s $tmp/relay$k ]] && break; sleep 0.1; done
        [[ -s $tmp/relay$k ]] || { cat "$tmp/relay$k.log" >&2; die "relay $k did not start"; }
        relay[k]=$(cat "$tmp/relay$k")
    done
fi
for ((i = 0; i < n; i++)); do
    k=$((i % ${#nodes[@]}))
    extra=()
    [[ -n ${relay[k]:-} ]] && extra=(--relay "${relay[k]}")
    ip netns exec "${nodes[k]}" "$cgrpo" actor "${args[@]}" "${extra[@]}" &
    pids+=($!)
done
echo "spread.sh: $n actors over ${#nodes[@]} node namespaces${relay:+, one relay each}"
wait
rm -rf "$tmp"
