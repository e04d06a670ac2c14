#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, ASan + UBSan) and runs them one after the
# other, in one of two modes (docs/reliability.md, "Fuzzing"):
#
#   scripts/fuzz.sh [SECONDS] [TARGET ...]     # exploratory: each target for SECONDS (default 60)
#   scripts/fuzz.sh --runs[=N] [TARGET ...]    # repeatable: each target for a fixed number of
#                                              # executions, from the committed inputs only
#   scripts/fuzz.sh --cpu=SECONDS [TARGET ...] # campaign: each target until its process has used
#                                              # SECONDS of CPU time (user + system), however
#                                              # long that takes on a shared machine
#   scripts/fuzz.sh --cpu-total=SECONDS [...]  # the same, minus the CPU time the ledger already
#                                              # holds for each target (a campaign over sessions)
#   scripts/fuzz.sh --ledger                   # the CPU time, executions and crashes every run
#                                              # so far gave each target (build/fuzz/logs/ledger.tsv)
#
# Exploratory runs (e.g. `scripts/fuzz.sh 600 font png`) keep what they find: new inputs go to
# build/fuzz/corpus/<target>/ and the next run starts from there too (the seeds in
# tests/fuzz/corpus/ stay as committed). How far a run gets depends on the machine's speed.
#
# --runs is what CI runs (.ci/run): each target executes exactly its CI count of inputs (the
# table below, sized from this project's 2-core machine to about 8 CPU-seconds a target; --runs=N
# gives every target N instead) with libFuzzer's -seed=1 (GLYPH_FUZZ_SEED), starting from
# tests/fuzz/corpus/<target>/ and tests/fuzz/regressions/<target>/ alone, into a fresh
# build/fuzz/runs/<target>/ (no reload of it during the run), with address randomisation off and
# a fixed environment (see fixed_env below). Nothing there depends on time, so the same commit,
# built with the same clang and libraries in a checkout at the same path, tries the same inputs on
# any machine: a CI failure is replayed by running the same command (one target:
# `scripts/fuzz.sh --runs render_text`; a failing run prints that line).
#
# --cpu runs like the exploratory mode (the corpus in build/fuzz/corpus/ grows), but stops a target
# with SIGINT (libFuzzer's clean stop: it prints its final stats) once the fuzzer's own CPU time,
# read from /proc, reaches SECONDS: on a machine others are using, wall time says little about how
# much fuzzing a target got. GLYPH_FUZZ_PARALLEL=N runs N targets at a time (default 1; not with
# --runs, whose logs CI reads in order).
#
# Crashes go to build/fuzz/crashes/<target>/, logs to build/fuzz/logs/<target>.log and the CPU
# time a run got (the machine may be shared) to build/fuzz/logs/<target>.time. Every run but a
# --runs one also appends a line to build/fuzz/logs/ledger.tsv (end date, the commit checked out
# when it started, target, mode, CPU seconds, wall seconds, executions, crashed 0/1), which
# --ledger sums per target, so a campaign can be spread over several runs. Exit status 1 when any target found a crash (or failed to run).
# GLYPH_FUZZ_JOBS: build jobs (default 2); GLYPH_FUZZ_ARGS: more libFuzzer flags for every target.
# Commit a crash's input to tests/fuzz/regressions/<target>/ once it is fixed (docs/reliability.md).
# The whole script is one block, so bash reads all of it before running any: a campaign runs for
# hours, and an edit to this file meanwhile must not change what the running copy does.
{
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$GLYPH_ROOT"
all=(config render_text font tokenizer tokenizer_text safetensors safetensors_index search_space
     advisor_reply png)
seconds=60
runs=""  # empty: time-limited; "ci": each target's CI count; a number: that count for all
cpu=""   # --cpu=SECONDS: each target until it has used that much CPU time
cpu_total=""  # --cpu-total=SECONDS: the same, counting what the ledger holds for the target
ledger=build/fuzz/logs/ledger.tsv
case "${1:-}" in
  --ledger)
    [ -s "$ledger" ] || { echo "fuzz.sh: no ledger yet ($ledger): run a campaign first" >&2; exit 2; }
    # Sum per target, in the order of first appearance.
    awk -F'\t' 'NR > 1 { if (!($3 in n)) order[++k] = $3; n[$3]++; cpu[$3] += $5; wall[$3] += $6;
                          ex[$3] += $7; cr[$3] += $8 }
      END { printf "| target | runs | CPU time | wall time | executions | crashes |\n";
            printf "| --- | ---: | ---: | ---: | ---: | ---: |\n";
            for (i = 1; i <= k; i++) { t = order[i];
              printf "| `%s` | %d | %.1f min | %.1f min | %d | %d |\n", t, n[t], cpu[t] / 60,
                     wall[t] / 60, ex[t], cr[t]; tc += cpu[t] }
            printf "\nTotal: %.1f CPU-min\n", tc / 60 }' "$ledger"
    exit 0 ;;
  --cpu=*)
    cpu="${1#--cpu=}"; shift
    [[ "$cpu" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --cpu=SECONDS needs a positive whole number, got '$cpu'" >&2; exit 2; }
    ;;
  --cpu-total=*)
    cpu_total="${1#--cpu-total=}"; shift
    [[ "$cpu_total" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --cpu-total=SECONDS needs a positive whole number, got '$cpu_total'" >&2; exit 2; }
    cpu="$cpu_total"
    ;;
  --runs) runs=ci; shift ;;
  --runs=*)
    runs="${1#--runs=}"; shift
    [[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --runs=N needs a positive whole number, got '$runs'" >&2; exit 2; }
    ;;
  -*) echo "fuzz.sh: unknown option '$1' (usage: fuzz.sh [SECONDS | --runs[=N] | --cpu=SECONDS | --cpu-total=SECONDS | --ledger] [TARGET ...])" >&2; exit 2 ;;
  *)
    if [[ "${1:-}" =~ ^[1-9][0-9]*$ ]]; then
      seconds="$1"; shift
    fi
    ;;
esac
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target '$t' (targets: ${all[*]})" >&2; exit 2; }
done
parallel="${GLYPH_FUZZ_PARALLEL:-1}"
[[ "$parallel" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: GLYPH_FUZZ_PARALLEL must be a positive whole number, got '$parallel'" >&2; exit 2; }
[ -z "$runs" ] || parallel=1

# clang and its libFuzzer/sanitizer runtimes (Debian): only this script needs them.
GLYPH_APT_PACKAGES+=(clang libclang-rt-dev)
glyph_apt_install

build=build/fuzz/bin
CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGLYPH_FUZZ=ON \
  -DGLYPH_BUILD_TESTS=OFF -DGLYPH_WITH_TORCH=OFF >/dev/null
cmake --build "$build" -j "${GLYPH_FUZZ_JOBS:-2}" --target "${targets[@]/#/fuzz_}"

# Longest input per target: big enough for the seeds, small enough to mutate fast.
max_len() {
  case "$1" in
    font) echo 65536 ;; tokenizer) echo 32768 ;; render_text | tokenizer_text) echo 4096 ;;
    png) echo 2048 ;; *) echo 8192 ;;
  esac
}
# Executions per target in --runs mode (CI): about 8 CPU-seconds each on the project's 2-core
# machine, measured from the CPU time of such runs (docs/reliability.md, "CI"). The count includes
# the committed inputs read first.
ci_runs() {
  case "$1" in
    config) echo 140000 ;; render_text) echo 2500 ;; font) echo 1000 ;; tokenizer) echo 25000 ;;
    tokenizer_text) echo 30000 ;; safetensors) echo 150000 ;; safetensors_index) echo 180000 ;;
    search_space) echo 45000 ;; advisor_reply) echo 110000 ;; png) echo 2400 ;;
  esac
}
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export GLYPH_FONT_DIR="${GLYPH_FONT_DIR:-$GLYPH_ROOT/python/glyph/fonts}"  # the default font of the render targets
# --runs: what else could make two runs differ. libFuzzer's comparison tracing feeds the values a
# target compares into its mutations, and some are addresses (of the binary's data, the heap, the
# stack), which address-space randomisation changes from run to run; a hash of addresses can
# change a path. So the run gets a fixed address layout (setarch -R) and a fixed, minimal
# environment (env -i: the stack's addresses depend on the environment's size; of the GLYPH_*
# variables only the font folder, a path of the checkout like the binary's own).
fixed_env=()
if [ -n "$runs" ]; then
  if setarch "$(uname -m)" -R true 2>/dev/null; then
    fixed_env=(setarch "$(uname -m)" -R)
  else
    echo "[fuzz] warning: setarch -R failed here, so addresses are randomised and the runs may differ" >&2
  fi
  fixed_env+=(env -i PATH=/usr/bin:/bin LC_ALL=C "ASAN_OPTIONS=$ASAN_OPTIONS" "UBSAN_OPTIONS=$UBSAN_OPTIONS"
              "GLYPH_FONT_DIR=$GLYPH_FONT_DIR")
fi
# The CPU time (user + system, seconds) process $1 has used so far, from /proc/PID/stat
# (fields 14 and 15, after the command name in parentheses).
ticks="$(getconf CLK_TCK)"
cpu_of() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  awk -v t="$ticks" '{ printf "%.1f", ($12 + $13) / t }' <<<"$stat"
}

# One target: run it, print its summary, and leave its status in build/fuzz/logs/<target>.status
# (0: no crash).
run_one() {
  local t="$1" n dirs limit what run_env dict timer rc start_s cpu_s wall_s execs crashed
  local cpu="$cpu"  # --cpu-total lowers it by what the ledger holds for this target
  mkdir -p "build/fuzz/crashes/$t" build/fuzz/logs
  if [ -n "$cpu_total" ]; then
    local had
    had="$(awk -F'\t' -v t="$t" 'NR > 1 && $3 == t { s += $5 } END { printf "%d", s }' "$ledger" 2>/dev/null || echo 0)"
    cpu=$(( cpu_total - ${had:-0} ))
    if [ "$cpu" -le 0 ]; then
      echo "[fuzz] $t: already has ${had} CPU-seconds in the ledger (>= $cpu_total)"
      echo 0 >"build/fuzz/logs/$t.status"
      return
    fi
  fi
  if [ -n "$runs" ]; then
    n="$runs"
    [ "$runs" = ci ] && n="$(ci_runs "$t")"
    # A fresh output folder: the run starts from the committed inputs alone.
    rm -rf "build/fuzz/runs/$t"
    mkdir -p "build/fuzz/runs/$t"
    dirs=("build/fuzz/runs/$t")
    limit=(-runs="$n" -seed="${GLYPH_FUZZ_SEED:-1}" -reload=0)
    what="$n executions, seed ${GLYPH_FUZZ_SEED:-1}"
    run_env=("${fixed_env[@]}")
  else
    mkdir -p "build/fuzz/corpus/$t"
    dirs=("build/fuzz/corpus/$t")
    if [ -n "$cpu" ]; then
      limit=()
      what="${cpu} CPU-seconds"
    else
      limit=(-max_total_time="$seconds")
      what="${seconds}s"
    fi
    run_env=()
  fi
  dirs+=("tests/fuzz/corpus/$t")
  [ -d "tests/fuzz/regressions/$t" ] && dirs+=("tests/fuzz/regressions/$t")
  dict=()
  case "$t" in
    config | search_space | tokenizer | safetensors | safetensors_index | advisor_reply)
      dict=(-dict=tests/fuzz/json.dict) ;;
  esac
  echo "[fuzz] $t: $what"
  local cmd=("$build/tests/fuzz/fuzz_$t" "${dirs[@]}" "${dict[@]}" "${limit[@]}"
             -max_len="$(max_len "$t")" -timeout=30 -rss_limit_mb=2560 -print_final_stats=1
             -artifact_prefix="build/fuzz/crashes/$t/")
  # shellcheck disable=SC2206  # GLYPH_FUZZ_ARGS is a list of flags
  cmd+=(${GLYPH_FUZZ_ARGS:-})
  start_s="$(date +%s)"
  local commit  # the checkout the binaries were just built from
  commit="$(git rev-parse --short HEAD 2>/dev/null || echo -)"
  rc=0
  if [ -n "$cpu" ]; then
    "${cmd[@]}" >"build/fuzz/logs/$t.log" 2>&1 &
    local pid=$! used=0
    while kill -0 "$pid" 2>/dev/null; do
      used="$(cpu_of "$pid")" || break
      if awk -v u="$used" -v c="$cpu" 'BEGIN { exit !(u >= c) }'; then
        cpu_s="$used"
        kill -INT "$pid" 2>/dev/null || true
        break
      fi
      sleep 2
    done
    wait "$pid" || rc=$?
    # 72 is libFuzzer's exit status for a run stopped by SIGINT (the stop asked for above, or a
    # person's Ctrl-C): a clean stop, not a finding, and its CPU time counts.
    [ "$rc" = 72 ] && rc=0
    cpu_s="${cpu_s:-$used}"
    echo "cpu_s=$cpu_s wall_s=$(( $(date +%s) - start_s ))" >"build/fuzz/logs/$t.time"
  else
    timer=()  # the CPU time the run got (the machine may be shared): build/fuzz/logs/<target>.time
    [ -x /usr/bin/time ] && timer=(/usr/bin/time -f "cpu_s=%U+%S wall_s=%e max_rss_kb=%M" \
      -o "build/fuzz/logs/$t.time")
    "${timer[@]}" "${run_env[@]}" "${cmd[@]}" >"build/fuzz/logs/$t.log" 2>&1 || rc=$?
  fi
  crashed=0
  if [ "$rc" = 0 ]; then
    grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)" \
      "build/fuzz/logs/$t.log" | tr '\n' ' ' || true
    cat "build/fuzz/logs/$t.time" 2>/dev/null || echo
  else
    crashed=1
    echo "[fuzz] $t FAILED: see build/fuzz/logs/$t.log and build/fuzz/crashes/$t/"
    tail -n 30 "build/fuzz/logs/$t.log"
    if [ -n "$runs" ]; then
      local flag="--runs" seed=""
      [ "$runs" = ci ] || flag="--runs=$runs"
      [ -z "${GLYPH_FUZZ_SEED:-}" ] || seed="GLYPH_FUZZ_SEED=$GLYPH_FUZZ_SEED "
      echo "[fuzz] the same run again: ${seed}bash scripts/fuzz.sh $flag $t"
    fi
  fi
  if [ -z "$runs" ]; then
    # The ledger: what this run gave the target (CPU seconds summed from "cpu_s=U+S" or "cpu_s=X").
    cpu_s="$(sed -n 's/^.*cpu_s=\([0-9.+]*\).*$/\1/p' "build/fuzz/logs/$t.time" 2>/dev/null | head -n 1)"
    cpu_s="$(awk -v e="${cpu_s:-0}" 'BEGIN { n = split(e, p, "+"); for (i = 1; i <= n; i++) s += p[i]; printf "%.1f", s }')"
    wall_s="$(( $(date +%s) - start_s ))"
    execs="$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*$/\1/p' "build/fuzz/logs/$t.log" | tail -n 1)"
    local mode="time=$seconds"
    [ -z "$cpu" ] || mode="cpu=$cpu"
    [ -s "$ledger" ] || printf 'date\tcommit\ttarget\tmode\tcpu_s\twall_s\texecutions\tcrashed\n' >"$ledger"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$commit" \
      "$t" "$mode" "$cpu_s" "$wall_s" "${execs:-0}" "$crashed" >>"$ledger"
  fi
  echo "$crashed" >"build/fuzz/logs/$t.status"
}

mkdir -p build/fuzz/logs
running=0
for t in "${targets[@]}"; do
  rm -f "build/fuzz/logs/$t.status"
  if [ "$parallel" -gt 1 ]; then
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$parallel" ]; then
      wait -n || true
      running=$((running - 1))
    fi
  else
    run_one "$t"
  fi
done
wait
failed=()
for t in "${targets[@]}"; do
  [ "$(cat "build/fuzz/logs/$t.status" 2>/dev/null)" = 0 ] || failed+=("$t")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "[fuzz] crashes in: ${failed[*]}"
  exit 1
fi
if [ -n "$runs" ]; then
  echo "[fuzz] no crash in ${#targets[@]} targets (${runs/#ci/CI counts} executions each, seed ${GLYPH_FUZZ_SEED:-1})"
elif [ -n "$cpu_total" ]; then
  echo "[fuzz] no crash in ${#targets[@]} targets (up to ${cpu_total} CPU-seconds each in the ledger: bash scripts/fuzz.sh --ledger)"
elif [ -n "$cpu" ]; then
  echo "[fuzz] no crash in ${#targets[@]} targets (${cpu} CPU-seconds each; totals: bash scripts/fuzz.sh --ledger)"
else
  echo "[fuzz] no crash in ${#targets[@]} targets (${seconds}s each)"
fi
exit
}
