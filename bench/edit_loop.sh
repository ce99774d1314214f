#!/bin/bash
# The edit-grade loop: `make grade` run again, wall time and CPU seconds of its whole process tree.
#
#   bench/edit_loop.sh [noop|one] [N] [BASELINE_CHECKOUT]
#
# noop: nothing changed; one: one byte appended to bob's Day 41 notebook before each run (restored
# at the end). With BASELINE_CHECKOUT (another checkout of this repository, graded once, with its
# own .venv), the two are run alternately, so that both see the same load. CPU seconds come from a
# cpuacct cgroup (root and cgroups v1); elsewhere only the wall time is printed.
set -u
MODE=${1:-noop}; N=${2:-5}; BASE=${3:-}
HERE=$(cd "$(dirname "$0")/.." && pwd)
CG=/sys/fs/cgroup/cpuacct/edit-loop-$$
mkdir -p "$CG" 2>/dev/null || CG=
NOTEBOOK=submitted/bob/day41_transformer/transformer.ipynb
for d in $HERE $BASE; do cp "$d/$NOTEBOOK" "/tmp/edit-loop-$$-$(basename "$d").ipynb"; done

run() {  # one `make grade` in checkout $1: prints wall and CPU seconds
    local d=$1 before=0 after=0 s e
    [ "$MODE" = one ] && echo " " >> "$d/$NOTEBOOK"
    [ -n "$CG" ] && before=$(cat "$CG/cpuacct.usage")
    s=$(date +%s.%N)
    (cd "$d" && if [ -n "$CG" ]; then sh -c "echo \$\$ > $CG/cgroup.procs; exec make grade"; else make grade; fi) >/dev/null 2>&1
    e=$(date +%s.%N)
    [ -n "$CG" ] && after=$(cat "$CG/cpuacct.usage")
    printf "%-5s %-40s wall %6.1f s  cpu %6.1f s  load %s\n" "$MODE" "$d" "$(echo "$e - $s" | bc)" \
        "$(echo "($after - $before) / 1000000000" | bc -l)" "$(cut -d' ' -f1 /proc/loadavg)"
}

for d in $HERE $BASE; do (cd "$d" && make grade >/dev/null 2>&1); done  # warm: the state the loop starts from
for i in $(seq 1 "$N"); do
    for d in $HERE $BASE; do run "$d"; done
done
for d in $HERE $BASE; do cp "/tmp/edit-loop-$$-$(basename "$d").ipynb" "$d/$NOTEBOOK"; rm -f "/tmp/edit-loop-$$-$(basename "$d").ipynb"; done
if [ -n "$CG" ]; then sleep 2; rmdir "$CG" 2>/dev/null || true; fi
