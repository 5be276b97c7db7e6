#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer (libfuzzer-sys) on the stable
# toolchain and runs each for a bounded time, one after the other, on a
# working copy of its stored corpus (fuzz/corpus/<target>/ is only read).
#
#   fuzz/run.sh                 every target, 600 s each
#   fuzz/run.sh 20              every target, 20 s each (what .ci/run does)
#   fuzz/run.sh 600 endpoint    one target
#   fuzz/run.sh merge [TARGET…] no run: minimise the working corpora into
#                               fuzz/corpus/<target>/ (seed-* and regress-*
#                               files stay, the rest is written anew)
#
# Prints, per target, libFuzzer's final figures (executions, exec/s, cov,
# ft, corpus) and the time. A crash, a panic, a timeout (-timeout, 10 s
# per input) or an out-of-memory fails the script: the input is left in
# fuzz/artifacts/<target>/. Environment: URA_FUZZ_CGU (codegen units,
# default 1: slow to build, fastest to run), URA_FUZZ_MERGE=1 (after the
# runs, minimise as `merge` does). No sanitizer: ASan needs the nightly toolchain; Rust's
# own checks (bounds, overflow and debug assertions) are on.
set -euo pipefail
cd "$(dirname "$0")"

seconds=${1:-600}
shift || true
merge_only=0
if [ "$seconds" = merge ]; then
  merge_only=1
  seconds=0
fi
all=(sip_message stream_framer sdp rtp rtcp rfc4733 endpoint config)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

triple=$(rustc -vV | sed -n 's/^host: //p')
# The flags cargo-fuzz 0.13 passes for `--sanitizer none` (so
# `cargo fuzz run -s none` and this script build alike): coverage
# counters, the PC table and comparison tracing for libFuzzer, `cfg(fuzzing)`.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing \
-Cllvm-args=-simplifycfg-branch-fold-threshold=0 -Cllvm-args=-sanitizer-coverage-stack-depth \
-Cdebug-assertions -Ccodegen-units=${URA_FUZZ_CGU:-1}"
unset CARGO_TARGET_DIR

t0=$SECONDS
features=()
for t in "${targets[@]}"; do
  [ "$t" = config ] && features=(--features config)
done
# --target: the flags reach our code and its dependencies, not build
# scripts or proc macros.
cargo build --release --target "$triple" --config 'profile.release.debug="line-tables-only"' \
  "${features[@]}" $(printf -- '--bin %s ' "${targets[@]}")
echo "build: $((SECONDS - t0)) s"

max_len() {
  case $1 in
    endpoint) echo 16384 ;;
    stream_framer | config) echo 8192 ;;
    *) echo 4096 ;;
  esac
}
dict() {
  case $1 in
    sip_message | stream_framer | endpoint) echo "-dict=dict/sip.dict" ;;
    sdp) echo "-dict=dict/sdp.dict" ;;
    config) echo "-dict=dict/config.dict" ;;
  esac
}

failed=()
[ "$merge_only" = 1 ] && targets_run=() || targets_run=("${targets[@]}")
[ "$merge_only" = 1 ] || printf '%-14s %6s %12s %8s %6s %7s %6s %s\n' target secs execs exec/s cov ft corpus result >target/fuzz-summary.txt
for t in ${targets_run[@]+"${targets_run[@]}"}; do
  work=target/corpus/$t
  mkdir -p "$work" "artifacts/$t" target/logs
  log=target/logs/$t.log
  echo "=== $t: $seconds s"
  t1=$SECONDS
  rc=0
  # shellcheck disable=SC2046 # dict is one flag or none
  "target/$triple/release/$t" "$work" "corpus/$t" $(dict "$t") \
    -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1 >"$log" 2>&1 || rc=$?
  took=$((SECONDS - t1))
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
  [ -n "$done_line" ] || done_line=$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  field() { sed -n "s/.* $1: \([0-9]*\).*/\1/p" <<<"$done_line"; }
  cov=$(field cov)
  ft=$(field ft)
  corp=$(field corp)
  result=ok
  if [ "$rc" != 0 ]; then
    result="FAILED (exit $rc)"
    failed+=("$t")
    grep -E 'panicked|ERROR: libFuzzer|SUMMARY|Test unit written|deadly signal' "$log" | head -20 || true
  fi
  printf '%-14s %6s %12s %8s %6s %7s %6s %s\n' "$t" "$took" "${execs:-?}" "${speed:-?}" \
    "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result" | tee -a target/fuzz-summary.txt
done

if [ "${URA_FUZZ_MERGE:-0}" = 1 ] || [ "$merge_only" = 1 ]; then
  for t in "${targets[@]}"; do
    # Seeds and reproducers stay; the found inputs are chosen anew: the
    # fewest that keep the working corpus's coverage (greedy set cover, of
    # edges rather than hit counts: a few hundred files, not thousands).
    find "corpus/$t" -type f ! -name 'seed-*' ! -name 'regress-*' -delete
    mkdir -p "target/corpus/$t" target/logs
    "target/$triple/release/$t" -set_cover_merge=1 -use_counters=0 -max_len="$(max_len "$t")" -timeout=10 \
      "corpus/$t" "target/corpus/$t" >"target/logs/$t.merge.log" 2>&1
    echo "merged $t: $(find "corpus/$t" -type f | wc -l) files, $(du -sh --apparent-size "corpus/$t" | cut -f1)"
  done
fi

[ "$merge_only" = 1 ] && exit 0
echo "=== summary ($(date -u '+%Y-%m-%d %H:%M UTC'), total $((SECONDS - t0)) s)"
cat target/fuzz-summary.txt
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing failed: ${failed[*]} (inputs in fuzz/artifacts/)"
  exit 1
fi
