#!/usr/bin/env python3
"""model.py: the scaling model of docs/scaling-model.md, checked against a namespace study.

    python3 launch/netns/model.py OUT_DIR/summary.csv [--obs 4 --actions 2 --groups 64]
    python3 launch/netns/model.py --predict [--actors 256,1024,4096] [--hidden 64,256] ...

With a summary.csv of launch/netns/study.sh it prints, per (link, hidden, relays, actors), the
model's broadcast time (copies x W / R) and latency (floor + that) beside the measured p50/p99;
the floor is the same configuration's latency on the 100gbit link when the study has one.
With --predict it prints the three ceilings of one learner (update, ingest, broadcast) and the
learner's broadcast load for the given sizes, with and without relays and fp16 weights.
Standard library only.
"""
import argparse
import csv
import math
import sys

RATES = {"100mbit": 100e6, "1gbit": 1e9, "10gbit": 10e9, "25gbit": 25e9, "100gbit": 100e9}


def n_params(obs, hidden, actions):
    """The policy MLP's parameter count: sum over layers of (in + 1) x out."""
    dims = [obs] + hidden + [actions]
    return sum((dims[i] + 1) * dims[i + 1] for i in range(len(dims) - 1))


def weights_bytes(params, bytes_per_param=4):
    """A Weights message: the parameters plus ~100 bytes of envelope, version, multipliers."""
    return params * bytes_per_param + 100


def rate_bytes(name):
    if name not in RATES:
        sys.exit(f"model.py: unknown link rate '{name}' (one of {', '.join(RATES)})")
    return RATES[name] / 8


def check(args):
    rows = list(csv.DictReader(open(args.summary)))
    if not rows:
        sys.exit(f"model.py: {args.summary} has no rows")
    floor = {(r["hidden"], r["relay"], r["actors"]): r for r in rows if r["rate"] == "100gbit"}
    print("model vs measured: broadcast time T_b = copies x W / R (copies = actors, or nodes "
          "with relays);\nlatency p50 ~ floor p50 + T_b/2, p99 ~ floor p99 + T_b "
          "(floor: the 100gbit row)\n")
    head = ("link", "hidden", "relays", "actors", "W KB", "copies", "T_b ms", "p50 model",
            "p50 meas", "p99 model", "p99 meas")
    print("%-7s %6s %6s %6s %7s %6s %7s %9s %8s %9s %8s" % head)
    for r in rows:
        h = int(r["hidden"])
        w = weights_bytes(n_params(args.obs, [h, h], args.actions))
        copies = args.nodes if r["relay"] == "on" else int(r["actors"])
        t_b = 1e3 * copies * w / rate_bytes(r["rate"])
        f = floor.get((r["hidden"], r["relay"], r["actors"]))
        p50 = "%9.1f" % (float(f["latency_p50_ms"]) + t_b / 2) if f else "%9s" % "-"
        p99 = "%9.1f" % (float(f["latency_p99_ms"]) + t_b) if f else "%9s" % "-"
        print("%-7s %6d %6s %6s %7.1f %6d %7.1f %s %8.1f %s %8.1f" % (
            r["rate"], h, r["relay"], r["actors"], w / 1e3, copies, t_b, p50,
            float(r["latency_p50_ms"]), p99, float(r["latency_p99_ms"])))


def predict(args):
    hidden = [int(h) for h in args.hidden.split(",")]
    actors = [int(n) for n in args.actors.split(",")]
    r_link = rate_bytes(args.rate)
    print(f"one learner, {args.rate} link; B = {args.groups} groups per update, update "
          f"T_u = {args.update_s} s, r_a = {args.groups_per_actor} groups/s per actor, "
          f"group message S_g = {args.group_kb} KB, {args.per_node} actors per node\n")
    b, r_a, s_g = args.groups, args.groups_per_actor, args.group_kb * 1e3
    n_update = b / (r_a * args.update_s)
    n_ingest = min(r_link / (r_a * s_g), args.ingest_msgs / r_a)
    print(f"update ceiling   N_u = B / (r_a T_u)            = {n_update:9.0f} actors")
    print(f"ingest ceiling   N_i = min(R / (r_a S_g), I / r_a) = {n_ingest:9.0f} actors "
          f"(I = {args.ingest_msgs:.0f} msgs/s the learner decodes)")
    for h in hidden:
        p = n_params(args.obs, [h, h], args.actions)
        for dtype, bpp in (("fp32", 4), ("fp16", 2)):
            w = weights_bytes(p, bpp)
            print(f"\nhidden {h},{h}: {p} parameters, W = {w / 1e3:.0f} KB ({dtype}); broadcast "
                  f"ceiling N_b = {broadcast_ceiling(r_link, b, r_a, w, args.update_s, 1):.0f} "
                  f"actors without relays, "
                  f"{broadcast_ceiling(r_link, b, r_a, w, args.update_s, args.per_node):.0f} with")
            print("%8s %10s %14s %10s %14s %10s" % ("actors", "versions/s", "no relays MB/s",
                                                   "T_b ms", "relays MB/s", "T_b ms"))
            for n in actors:
                f_v = min(n * r_a / b, 1 / args.update_s)
                nodes = math.ceil(n / args.per_node)
                load, load_relay = n * w * f_v, nodes * w * f_v
                print("%8d %10.2f %13.1f%s %10.1f %13.1f%s %10.1f" % (
                    n, f_v, load / 1e6, "*" if load > r_link else " ", 1e3 * n * w / r_link,
                    load_relay / 1e6, "*" if load_relay > r_link else " ",
                    1e3 * nodes * w / r_link))
    print(f"\n* more than the link carries ({r_link / 1e6:.0f} MB/s): versions queue behind each "
          "other; the PUB's high-water mark then drops them for the slowest subscribers")


def broadcast_ceiling(r_link, b, r_a, w, t_u, per_node):
    """Actors N at which the learner's broadcast bytes/s, (N / per_node) x W x f_v, reach the
    link: f_v = N r_a / B while the learner keeps up, 1 / T_u once it is update-bound."""
    n = math.sqrt(per_node * r_link * b / (r_a * w))
    if n * r_a / b <= 1 / t_u:
        return n
    return per_node * r_link * t_u / w


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("summary", nargs="?", help="summary.csv of launch/netns/study.sh")
    ap.add_argument("--predict", action="store_true", help="print the ceilings instead")
    ap.add_argument("--obs", type=int, default=4, help="observation size (sleep/null: 4)")
    ap.add_argument("--actions", type=int, default=2, help="actions (sleep/null: 2)")
    ap.add_argument("--nodes", type=int, default=4, help="node namespaces of the study")
    ap.add_argument("--hidden", default="64,256", help="hidden widths (two layers each)")
    ap.add_argument("--actors", default="64,256,1024,4096")
    ap.add_argument("--rate", default="1gbit", help="the learner's link")
    ap.add_argument("--groups", type=int, default=64, help="B, groups per update")
    ap.add_argument("--update-s", type=float, default=0.05, help="T_u, seconds per update")
    ap.add_argument("--groups-per-actor", type=float, default=0.93, help="r_a, groups/s")
    ap.add_argument("--group-kb", type=float, default=11.2, help="S_g, KB per group message")
    ap.add_argument("--ingest-msgs", type=float, default=2700,
                    help="I, group messages/s the learner decodes")
    ap.add_argument("--per-node", type=int, default=16, help="actors per node (relays)")
    args = ap.parse_args()
    if args.predict:
        predict(args)
    elif args.summary:
        check(args)
    else:
        ap.error("give a summary.csv, or --predict")


if __name__ == "__main__":
    main()
