#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, ASan + UBSan) and runs each for SECONDS
# (default 60), one after the other. Usage:
#   scripts/fuzz.sh [SECONDS] [TARGET ...]      # e.g. scripts/fuzz.sh 600 font png
# New inputs go to build/fuzz/corpus/<target>/ (the seeds in tests/fuzz/corpus/ stay as committed),
# crashes to build/fuzz/crashes/<target>/, logs to build/fuzz/logs/<target>.log. Exit status 1 when
# any target found a crash (or failed to run). GLYPH_FUZZ_JOBS: build jobs (default 2);
# GLYPH_FUZZ_ARGS: more libFuzzer flags for every target (CI passes -seed=1).
# Commit a crash's input to tests/fuzz/regressions/<target>/ once it is fixed (docs/reliability.md).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$GLYPH_ROOT"
seconds="${1:-60}"
shift || true
all=(config render_text font tokenizer tokenizer_text safetensors safetensors_index search_space
     advisor_reply png)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

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
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export GLYPH_FONT_DIR="${GLYPH_FONT_DIR:-$GLYPH_ROOT/python/glyph/fonts}"  # the default font of the render targets
failed=()
for t in "${targets[@]}"; do
  mkdir -p "build/fuzz/corpus/$t" "build/fuzz/crashes/$t" build/fuzz/logs
  dirs=("build/fuzz/corpus/$t" "tests/fuzz/corpus/$t")
  [ -d "tests/fuzz/regressions/$t" ] && dirs+=("tests/fuzz/regressions/$t")
  dict=()
  case "$t" in
    config | search_space | tokenizer | safetensors | safetensors_index | advisor_reply)
      dict=(-dict=tests/fuzz/json.dict) ;;
  esac
  echo "[fuzz] $t for ${seconds}s"
  timer=()  # the CPU time the run got (the machine may be shared): build/fuzz/logs/<target>.time
  [ -x /usr/bin/time ] && timer=(/usr/bin/time -f "cpu_s=%U+%S wall_s=%e max_rss_kb=%M" \
    -o "build/fuzz/logs/$t.time")
  if "${timer[@]}" "$build/tests/fuzz/fuzz_$t" "${dirs[@]}" "${dict[@]}" -max_total_time="$seconds" \
      -max_len="$(max_len "$t")" -timeout=30 -rss_limit_mb=2560 -print_final_stats=1 \
      -artifact_prefix="build/fuzz/crashes/$t/" ${GLYPH_FUZZ_ARGS:-} >"build/fuzz/logs/$t.log" 2>&1; then
    grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)" \
      "build/fuzz/logs/$t.log" | tr '\n' ' ' || true
    cat "build/fuzz/logs/$t.time" 2>/dev/null || echo
  else
    echo "[fuzz] $t FAILED: see build/fuzz/logs/$t.log and build/fuzz/crashes/$t/"
    tail -n 30 "build/fuzz/logs/$t.log"
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "[fuzz] crashes in: ${failed[*]}"
  exit 1
fi
echo "[fuzz] no crash in ${#targets[@]} targets (${seconds}s each)"
