#!/usr/bin/env bash
# Compare two revisions on a noisy machine: run the benchmark subset alternately (A B A B ...),
# print each run's p50s and in-run ratios, then the median of each over all runs.
#
#   bash bench/compare.sh REV_A REV_B [ROUNDS] [PYTEST_K_EXPR]
#
# REV is any git revision, or WT for the working tree. Default subset: auth + floor cases.
# Each revision runs from its own exported copy, so nothing in the worktree changes.
set -euo pipefail
cd "$(dirname "$0")/.."
A=$1; B=$2; ROUNDS=${3:-5}; K=${4:-"test_authenticate[ or floor"}
PYTHON="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export_rev() {
  mkdir -p "$WORK/$1"
  if [ "$1" = WT ]; then tar -c --exclude=.git --exclude=__pycache__ --exclude=.venv . | tar -x -C "$WORK/$1"
  else git archive "$1" | tar -x -C "$WORK/$1"; fi
}
export_rev "$A"; [ "$B" = "$A" ] || export_rev "$B"
for round in $(seq 1 "$ROUNDS"); do
  for rev in "$A" "$B"; do
    (cd "$WORK/$rev" && PYTHONPATH="$WORK/$rev" "$PYTHON" -m pytest bench -q -p no:cacheprovider -k "$K" \
        --benchmark-json "$WORK/$rev-$round.json" >/dev/null)
  done
done
PYTHONPATH="$PWD" "$PYTHON" - "$WORK" "$A" "$B" "$ROUNDS" <<'PY'
import statistics, sys
from relaystore import benchreport as b

work, revs, rounds = sys.argv[1], sys.argv[2:4], int(sys.argv[4])
summary = {rev: {} for rev in revs}
for rnd in range(1, rounds + 1):
    for rev in revs:
        report = b.Report(b.load_json(f"{work}/{rev}-{rnd}.json"))
        row = {}
        for group, pair in sorted(report.by_group.items()):
            for backend, m in sorted(pair.items()):
                row[f"{group} {backend} p50 us"] = m.p50 * 1e6
            for name, value in (("MySQL/Redis", report.ratio(group)),
                                ("MySQL/floor", report.floor_ratio(group, "mysql"))):
                if value is not None and group != "floor":
                    row[f"{group} {name}"] = value
        for key, value in row.items():
            summary[rev].setdefault(key, []).append(value)
        print(f"run {rnd} {rev}: " + ", ".join(f"{k} {v:.2f}" if v < 20 else f"{k} {v:.0f}"
                                             for k, v in row.items()))
print(f"\nmedian of {rounds} runs | " + " | ".join(revs))
for key in summary[revs[0]]:
    cells = [statistics.median(summary[rev].get(key, [float("nan")])) for rev in revs]
    print(f"{key:>32} | " + " | ".join(f"{c:.2f}" if c < 20 else f"{c:.0f}" for c in cells))
PY
