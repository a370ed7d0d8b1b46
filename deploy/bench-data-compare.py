#!/usr/bin/env python3
"""bench-data-compare.py OURS.tsv FIO.txt: our data-path rows next to fio on the raw disk, with
the ratios issue 3 sets as targets (at replicas=3), as a markdown table. A row of ours measured
between two fio runs of its own (DataBench --raw-read: "raw cold read (fio), paired with: TEST")
is compared with their mean, not with the fio suite's figure from the end of the run."""
import csv
import re
import sys

ours_path, fio_path = sys.argv[1], sys.argv[2]
ours, paired = {}, {}
PAIRED = "raw cold read (fio), paired with: "
for r in csv.DictReader(open(ours_path), delimiter="\t"):
    if r["test"].startswith(PAIRED):
        paired[(int(r["replicas"]), r["test"][len(PAIRED):])] = r
    else:
        ours[(int(r["replicas"]), r["test"])] = r
fio = {}
for line in open(fio_path):
    f = line.split()
    if len(f) >= 6 and not line.startswith("#") and f[1].replace(".", "", 1).isdigit():
        fio[f[0]] = {"mibps": float(f[1]), "iops": float(f[3]), "p50": float(f[4]), "p99": float(f[5])}
replicas = sorted({k[0] for k in ours})

# (our test, unit shown, fio test, fio field, target ratio at replicas=3 or None)
rows = [(t, "MiB/s", "seqwrite-dio", "mibps", 0.12) for t in sorted({k[1] for k in ours if k[1].startswith("seq write")})]
rows += [
    ("seq read 1M (cold)", "MiB/s", "seqread", "mibps", 0.60),
    ("seq read 1M (cold), client on a CS host", "MiB/s", "seqread", "mibps", 0.60),
    ("rand read 4k qd16", "IOPS", "randread", "iops", 0.20),
    ("rand read 4k qd16, client on a CS host", "IOPS", "randread", "iops", 0.20),
    ("rand write 4k qd16", "IOPS", "randwrite", "iops", None),
    ("sync write 4k (qd1)", "us p50", "syncwrite", "p50", None),
]
head = ["test", "unit"] + [f"replicas={r}" for r in replicas] + ["raw disk (fio)", "fio test", "r=3 / raw", "target", "met"]
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for test, unit, ftest, field, target in rows:
    vals = [ours.get((r, test)) for r in replicas]
    raw = fio.get(ftest, {}).get(field)
    r3 = ours.get((3, test))
    if (3, test) in paired:
        raw = float(paired[(3, test)]["value"])
        ftest = f"{ftest}, paired ({paired[(3, test)]['extra']})"
    if unit == "us p50":
        ratio = f"{float(r3['value']) / raw:.1f}x latency" if r3 and raw else "-"
    else:
        ratio = f"{float(r3['value']) / raw:.1%}" if r3 and raw else "-"
    met = "-" if target is None or not (r3 and raw) else ("yes" if float(r3["value"]) >= target * raw else "**no**")
    cells = [f"{float(v['value']):.1f}" if v else "-" for v in vals]
    print("| " + " | ".join([test, unit] + cells + [f"{raw:.1f}" if raw else "-", ftest, ratio,
                                                     f">= {target:.0%}" if target else "-", met]) + " |")
print()
print("CPU, % of one core summed over the chunk servers and the client+MDS JVM (per 100 MiB/s moved):")
print()
print("| test | " + " | ".join(f"replicas={r}" for r in replicas) + " |")
print("|---|" + "---|" * len(replicas))
for test in sorted({k[1] for k in ours}):
    cells = []
    for r in replicas:
        v = ours.get((r, test))
        cells.append(f"{v['cpu_pct']}% ({v['cpu_pct_per_100mibps']}% per 100 MiB/s)" if v else "-")
    print(f"| {test} | " + " | ".join(cells) + " |")
