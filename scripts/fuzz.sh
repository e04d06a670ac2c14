#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, ASan + UBSan) and runs them one after the
# other, in one of two modes (docs/reliability.md, "Fuzzing"):
#
#   scripts/fuzz.sh [SECONDS] [TARGET ...]     # exploratory: each target for SECONDS (default 60)
#   scripts/fuzz.sh --runs[=N] [TARGET ...]    # repeatable: each target for a fixed number of
#                                              # executions, from the committed inputs only
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
# Crashes go to build/fuzz/crashes/<target>/, logs to build/fuzz/logs/<target>.log and the CPU
# time a run got (the machine may be shared) to build/fuzz/logs/<target>.time. Exit status 1 when
# any target found a crash (or failed to run). GLYPH_FUZZ_JOBS: build jobs (default 2);
# GLYPH_FUZZ_ARGS: more libFuzzer flags for every target.
# Commit a crash's input to tests/fuzz/regressions/<target>/ once it is fixed (docs/reliability.md).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$GLYPH_ROOT"
all=(config render_text font tokenizer tokenizer_text safetensors safetensors_index search_space
     advisor_reply png)
seconds=60
runs=""  # empty: time-limited; "ci": each target's CI count; a number: that count for all
case "${1:-}" in
  --runs) runs=ci; shift ;;
  --runs=*)
    runs="${1#--runs=}"; shift
    [[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --runs=N needs a positive whole number, got '$runs'" >&2; exit 2; }
    ;;
  -*) echo "fuzz.sh: unknown option '$1' (usage: fuzz.sh [SECONDS | --runs[=N]] [TARGET ...])" >&2; exit 2 ;;
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
failed=()
for t in "${targets[@]}"; do
  mkdir -p "build/fuzz/crashes/$t" build/fuzz/logs
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
    limit=(-max_total_time="$seconds")
    what="${seconds}s"
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
  timer=()  # the CPU time the run got (the machine may be shared): build/fuzz/logs/<target>.time
  [ -x /usr/bin/time ] && timer=(/usr/bin/time -f "cpu_s=%U+%S wall_s=%e max_rss_kb=%M" \
    -o "build/fuzz/logs/$t.time")
  # shellcheck disable=SC2086  # GLYPH_FUZZ_ARGS is a list of flags
  if "${timer[@]}" "${run_env[@]}" "$build/tests/fuzz/fuzz_$t" "${dirs[@]}" "${dict[@]}" "${limit[@]}" \
      -max_len="$(max_len "$t")" -timeout=30 -rss_limit_mb=2560 -print_final_stats=1 \
      -artifact_prefix="build/fuzz/crashes/$t/" ${GLYPH_FUZZ_ARGS:-} >"build/fuzz/logs/$t.log" 2>&1; then
    grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)" \
      "build/fuzz/logs/$t.log" | tr '\n' ' ' || true
    cat "build/fuzz/logs/$t.time" 2>/dev/null || echo
  else
    echo "[fuzz] $t FAILED: see build/fuzz/logs/$t.log and build/fuzz/crashes/$t/"
    tail -n 30 "build/fuzz/logs/$t.log"
    if [ -n "$runs" ]; then
      flag="--runs"
      [ "$runs" = ci ] || flag="--runs=$runs"
      seed=""
      [ -z "${GLYPH_FUZZ_SEED:-}" ] || seed="GLYPH_FUZZ_SEED=$GLYPH_FUZZ_SEED "
      echo "[fuzz] the same run again: ${seed}bash scripts/fuzz.sh $flag $t"
    fi
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "[fuzz] crashes in: ${failed[*]}"
  exit 1
fi
if [ -n "$runs" ]; then
  echo "[fuzz] no crash in ${#targets[@]} targets (${runs/#ci/CI counts} executions each, seed ${GLYPH_FUZZ_SEED:-1})"
else
  echo "[fuzz] no crash in ${#targets[@]} targets (${seconds}s each)"
fi
