#!/usr/bin/env bash
# The libFuzzer targets under ASan + UBSan (docs/fuzzing.md): configures and
# builds build-fuzz/ (GROWC_FUZZ=ON: only the fuzz targets and the runtime's
# GoogleTests), compiles the kernels file the plan target runs with the
# normal build's growc, then fuzzes.
#
#   bash scripts/fuzz.sh --ci [SECONDS]   # CI: each target SECONDS (10), two
#                                          # at a time, then the runtime's
#                                          # GoogleTests under ASan + UBSan
#   bash scripts/fuzz.sh --long SECONDS   # the long run, all targets at once
#                                          # under nice, each until SECONDS or
#                                          # --runs N executions (10M); prints
#                                          # the table
#   bash scripts/fuzz.sh --build          # build only
#   ... --targets "json plan"             # a subset (names without growc-fuzz-)
#
# Any crash, sanitizer report, leak or timeout fails the run and prints the
# reproducer and the command that replays it. New corpus entries go to
# build-fuzz/fuzz/<target>/corpus; the seeds in the repository are read only.
# GROWC_BUILD_DIR: the normal build (default build/, for growc);
# GROWC_FUZZ_BUILD_DIR: the sanitizer build (default build-fuzz/).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${GROWC_BUILD_DIR:-$root/build}
fuzzbuild=${GROWC_FUZZ_BUILD_DIR:-$root/build-fuzz}

mode=""
seconds=10
runs=10000000
targets="safetensors json tokens tokenizer plan hf-config grow-dialect"
while (($#)); do
  case "$1" in
  --ci) mode=ci; if [[ ${2:-} =~ ^[0-9]+$ ]]; then seconds=$2; shift; fi ;;
  --long) mode=long; seconds=${2:?--long needs SECONDS}; shift ;;
  --build) mode=build ;;
  --targets) targets=${2:?--targets needs a list}; shift ;;
  --runs) runs=${2:?--runs needs a count}; shift ;;
  *) echo "fuzz.sh: unknown argument '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done
[[ -n $mode ]] || { echo "fuzz.sh: say --ci, --long SECONDS or --build" >&2; exit 2; }

# Where each target's seeds and dictionary live: the runtime's readers in
# runtime/fuzz, the compiler's in test/Fuzz.
source_dir() {
  case "$1" in
  hf-config | grow-dialect) echo "$root/test/Fuzz" ;;
  *) echo "$root/runtime/fuzz" ;;
  esac
}

#===--- Build ------------------------------------------------------------===#
# Two CMake builds, both with GROWC_FUZZ=ON (every file under ASan + UBSan):
# the runtime configured on its own (build-fuzz/runtime: its fuzz targets and
# GoogleTests, no LLVM) and the top level (build-fuzz: only the compiler's
# targets and what they link). Binaries of both go to build-fuzz/bin.
start=$SECONDS
configure() { # SOURCE BUILD
  if [[ ! -f "$2/build.ninja" ]]; then
    echo "fuzz: configuring $2"
    # -O1: libFuzzer's recommendation for sanitizer builds (fast to
    # compile, fast enough to run).
    cmake -G Ninja -S "$1" -B "$2" -DGROWC_FUZZ=ON \
      -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" \
      -DCMAKE_RUNTIME_OUTPUT_DIRECTORY="$fuzzbuild/bin" \
      -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 >/dev/null
  fi
}
runtime_targets=() compiler_targets=()
for t in $targets; do
  if [[ $(source_dir "$t") == "$root/runtime/fuzz" ]]; then
    runtime_targets+=("growc-fuzz-$t")
  else
    compiler_targets+=("growc-fuzz-$t")
  fi
done
[[ $mode == ci ]] && runtime_targets+=(growc-runtime-unittests)
if ((${#runtime_targets[@]})); then
  configure "$root/runtime" "$fuzzbuild/runtime"
  echo "fuzz: building ${runtime_targets[*]}"
  ninja -C "$fuzzbuild/runtime" "${runtime_targets[@]}"
fi
if ((${#compiler_targets[@]})); then
  configure "$root" "$fuzzbuild"
  echo "fuzz: building ${compiler_targets[*]}"
  ninja -C "$fuzzbuild" "${compiler_targets[@]}"
fi
echo "fuzz: build took $((SECONDS - start)) s"

# The plan target's kernels file: a one-layer forward graph of the tiny
# example, compiled by the normal (uninstrumented) growc.
work=$fuzzbuild/fuzz
kernels=$work/kernels/fwd.so
if [[ " $targets " == *" plan "* ]]; then
  growc=$build/bin/growc
  [[ -x $growc ]] || { echo "fuzz: $growc not found: build growc first (scripts/setup.sh)" >&2; exit 1; }
  mkdir -p "$work/kernels"
  "$growc" --import-hf-config "$root/examples/tiny/config.json" \
    --num-layers 1 -o "$work/kernels/model.mlir" 2>/dev/null
  "$growc" "$work/kernels/model.mlir" --graph=forward --batch 1 --seq 8 \
    -o "$kernels"
  export GROWC_FUZZ_KERNELS=$kernels
fi
[[ $mode == build ]] && exit 0

# allow_user_poisoning=0: LLVM's BumpPtrAllocator poisons its slabs and
# unpoisons each allocation only where the allocating code is instrumented.
# A slab that growc's instrumented code opened (an attribute's storage) and
# that Debian's uninstrumented libMLIR.so then allocates from (a location's
# file name) stays poisoned, and ASan reports the libMLIR.so write as
# use-after-poison (docs/fuzzing.md, Findings). Heap redzones, frees and
# leaks are still checked.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:allow_user_poisoning=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

#===--- Fuzz -------------------------------------------------------------===#
# run_target NAME SECONDS: fuzzes one target, log in $work/NAME.log.
run_target() {
  local name=$1 time=$2 src dict=()
  src=$(source_dir "$name")
  mkdir -p "$work/$name/corpus"
  # The freshly compiled plan is a seed too: its schema is always current.
  [[ $name == plan ]] && cp "$kernels.plan.json" "$work/$name/corpus/compiled.plan.json"
  [[ -f $src/dict/$name.dict ]] && dict=("-dict=$src/dict/$name.dict")
  "${nice_cmd[@]}" "$fuzzbuild/bin/growc-fuzz-$name" "$work/$name/corpus" "$src/corpus/$name" \
    "${dict[@]}" -max_total_time="$time" "${runs_arg[@]}" -timeout="$timeout" -print_final_stats=1 \
    -artifact_prefix="$work/$name/" >"$work/$name.log" 2>&1
}

# report NAME STATUS: one summary line; on failure the reproducer.
report() {
  local name=$1 status=$2 log=$work/$1.log
  local stats
  stats=$(awk '/stat::number_of_executed_units/ {e=$2} /stat::average_exec_per_sec/ {s=$2}
    /^#[0-9]+.*(DONE|pulse|NEW|REDUCE)/ {for (i=1;i<=NF;i++) {if ($i=="cov:") c=$(i+1); if ($i=="ft:") f=$(i+1)}}
    END {printf "%s executions, %s exec/s, cov %s, ft %s", e, s, c, f}' "$log")
  if ((status == 0)); then
    echo "fuzz: $name: ok: $stats"
    return 0
  fi
  echo "fuzz: $name: FAILED (exit $status): $stats"
  grep -E "ERROR: |runtime error:|Test unit written to|^    #[0-9]+ " "$log" | head -40 || true
  local unit
  unit=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
  if [[ -n $unit ]]; then
    echo "fuzz: reproduce with: ${GROWC_FUZZ_KERNELS:+GROWC_FUZZ_KERNELS=$GROWC_FUZZ_KERNELS }$fuzzbuild/bin/growc-fuzz-$name $unit"
  fi
  echo "fuzz: full log: $log"
  return 1
}

failed=0
# A hang fails the run, but not a slow moment of a shared machine: the
# targets take milliseconds per input.
nice_cmd=() runs_arg=() timeout=30
if [[ $mode == ci ]]; then
  # Two at a time (this machine has two cores).
  set -- $targets
  while (($#)); do
    a=$1; b=${2:-}
    run_target "$a" "$seconds" & pa=$!
    if [[ -n $b ]]; then run_target "$b" "$seconds" & pb=$!; fi
    sa=0; wait $pa || sa=$?
    report "$a" $sa || failed=1
    if [[ -n $b ]]; then sb=0; wait $pb || sb=$?; report "$b" $sb || failed=1; shift; fi
    shift
  done
else
  # All at once, below everyone else's work.
  nice_cmd=(nice -n 10) runs_arg=(-runs="$runs") timeout=60
  pids=()
  for t in $targets; do
    run_target "$t" "$seconds" &
    pids+=($!)
  done
  i=0
  for t in $targets; do
    s=0; wait "${pids[$i]}" || s=$?
    report "$t" $s || failed=1
    i=$((i + 1))
  done
fi

#===--- The runtime's GoogleTests under ASan + UBSan ---------------------===#
if [[ $mode == ci ]]; then
  gstart=$SECONDS
  # Leak checking off here only: the fake CUDA driver (runtime/testing)
  # never frees the function handles it gives out, which LeakSanitizer
  # would report from every test that loads PTX. ASan's and UBSan's other
  # checks stay fatal.
  if ASAN_OPTIONS=detect_leaks=0 "$fuzzbuild/bin/growc-runtime-unittests" --gtest_brief=1 \
    >"$work/runtime-unittests.log" 2>&1; then
    echo "fuzz: growc-runtime-unittests under ASan + UBSan: ok ($((SECONDS - gstart)) s)"
  else
    echo "fuzz: growc-runtime-unittests under ASan + UBSan: FAILED ($((SECONDS - gstart)) s)"
    tail -60 "$work/runtime-unittests.log"
    failed=1
  fi
fi
echo "fuzz: total $((SECONDS - start)) s"
exit $failed
