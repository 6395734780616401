#!/usr/bin/env bash
# The libFuzzer harnesses of fuzz/ (docs/fuzzing.md):
#
#   scripts/fuzz.sh build                  build the harnesses and gen_corpus
#   scripts/fuzz.sh corpus                 build, then (re)generate the seed corpora
#   scripts/fuzz.sh smoke [SECONDS]        build, corpus, replay every seed and every
#                                          committed regression input, then fuzz each
#                                          harness SECONDS (default 3); prints
#                                          "fuzz-smoke: N passed, N failed"
#   scripts/fuzz.sh run [SECONDS] [harness...]
#                                          the long run: fuzz each harness (default: all)
#                                          for SECONDS (default 600), $FUZZ_JOBS (default:
#                                          every core) at once, under nice -n 19; corpora
#                                          grow in fuzz/out/corpus-*/ and are merged after,
#                                          logs in fuzz/out/logs-*/, crashes in
#                                          fuzz/out/crashes-*/; prints execs and edges, then
#                                          the coverage report below
#   scripts/fuzz.sh coverage [harness...]  line coverage of src/ by the corpora (llvm-cov;
#                                          per folder, per file in fuzz/out/logs-*/coverage.txt)
#   scripts/fuzz.sh speed [SECONDS] [harness...]
#                                          executions per CPU second in the SPEED=1 build
#                                          (FUZZ_PROFILE=1: and a perf profile each)
#   scripts/fuzz.sh repro HARNESS FILE     run one harness on one input (a crash file)
#
# FUZZ_CRYPTO=bearssl (default), sodium or openssl picks the provider the
# core is linked with (smoke does all three unless it is set). A crash, a sanitizer
# report, a leak or a timeout fails the command (exit 1).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=${FUZZ_JOBS:-2}
out=fuzz/out
# the provider the core is linked with, and where its builds and corpora go
set_crypto() {
  crypto=$1
  bin=$out/build-$crypto
  corpus=$out/corpus-$crypto
  logs=$out/logs-$crypto
  crashes=$out/crashes-$crypto
  mkdir -p "$logs" "$crashes"
}
. fuzz/harnesses.sh
harnesses=("${fuzz_harnesses[@]}")
export CDTLS_FUZZ_CERTS="$root/fuzz/certs"
# a UBSan report is fatal (the build also says -fno-sanitize-recover)
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
dict_of() { fuzz_dict_of "$@"; }
max_len_of() { fuzz_max_len_of "$@"; }

build() {
  command -v clang >/dev/null || { echo "fuzz: clang is missing (scripts/setup.sh)"; return 1; }
  nice -n 19 make -s -f fuzz/Makefile -j"$jobs" CRYPTO="$crypto" OUT="$bin"
}

gen_corpus() {
  rm -rf "$corpus.seeds"
  "$bin/gen_corpus" "$corpus.seeds" || return 1
  # the growing corpus keeps what earlier runs found; the seeds are added
  mkdir -p "$corpus"
  for h in "${harnesses[@]}"; do
    mkdir -p "$corpus/$h"
    [ -d "$corpus.seeds/$h" ] && cp -n "$corpus.seeds/$h"/* "$corpus/$h/" 2>/dev/null
  done
  return 0
}

# The inputs every smoke run replays: the generated seeds and the committed
# regression inputs (fuzz/regress/<harness>/, one per bug fixed).
replay() {
  local h=$1 dirs=()
  [ -d "$corpus.seeds/$h" ] && dirs+=("$corpus.seeds/$h")
  [ -d "fuzz/regress/$h" ] && dirs+=("fuzz/regress/$h")
  [ ${#dirs[@]} -eq 0 ] && return 0
  mkdir -p "$crashes/$h"
  "$bin/$h" -runs=0 -timeout=25 -rss_limit_mb=2048 -artifact_prefix="$crashes/$h/replay-" \
    "${dirs[@]}" > "$logs/$h.replay.log" 2>&1
}

# fuzz_one HARNESS SECONDS LOG CORPUS_DIR
fuzz_one() {
  local h=$1 secs=$2 log=$3 dir=$4
  mkdir -p "$crashes/$h"
  nice -n 19 "$bin/$h" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 \
    -max_len="$(max_len_of "$h")" -dict="$(dict_of "$h")" -print_final_stats=1 \
    -artifact_prefix="$crashes/$h/" "$dir" > "$log" 2>&1
}

# execs and edges from libFuzzer's final stats / last status line
stats() {
  local log=$1
  local execs edges
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  edges=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  echo "execs=${execs:-?} edges=${edges:-?}"
}

# merge_corpus HARNESS: the corpus replaced by its libFuzzer merge (every
# input that adds coverage, smallest first), seeds included
merge_corpus() {
  local h=$1 m=$corpus/$h.merge
  rm -rf "$m" && mkdir -p "$m"
  if nice -n 19 "$bin/$h" -merge=1 -timeout=25 -rss_limit_mb=2048 -max_len="$(max_len_of "$h")" \
       "$m" "$corpus/$h" > "$logs/$h.merge.log" 2>&1; then
    rm -rf "$corpus/$h" && mv "$m" "$corpus/$h"
  else
    echo "fuzz: $h: merging failed (log $logs/$h.merge.log), corpus kept"
    rm -rf "$m"
  fi
}

# coverage_report HARNESS...: a source-coverage build (fuzz/Makefile
# COVERAGE=1) replays each corpus; llvm-cov over all of them; the lines
# of src/ per folder, and per file in $logs/coverage.txt
coverage_report() {
  local cbin=$out/build-$crypto-cov objs=() h
  nice -n 19 make -s -f fuzz/Makefile -j"$jobs" CRYPTO="$crypto" OUT="$cbin" COVERAGE=1 \
    $(printf "$cbin/%s " "$@") || return 1
  rm -rf "$cbin/prof" && mkdir -p "$cbin/prof"
  for h in "$@"; do
    [ -d "$corpus/$h" ] || continue
    LLVM_PROFILE_FILE="$cbin/prof/$h.profraw" nice -n 19 "$cbin/$h" -runs=0 -timeout=25 \
      -rss_limit_mb=2048 "$corpus/$h" > "$logs/$h.cov.log" 2>&1 || { echo "fuzz: $h: replay failed"; return 1; }
    objs+=(-object "$cbin/$h")
  done
  llvm-profdata merge -sparse "$cbin"/prof/*.profraw -o "$cbin/all.profdata" || return 1
  llvm-cov report "${objs[@]:1}" -instr-profile="$cbin/all.profdata" src/ > "$logs/coverage.txt"
  llvm-cov export -summary-only "${objs[@]:1}" -instr-profile="$cbin/all.profdata" src/ > "$cbin/summary.json"
  python3 - "$cbin/summary.json" "$root" <<'PY'
import json, os, sys
data = json.load(open(sys.argv[1]))["data"][0]["files"]
root = sys.argv[2] + "/"
folders = {}
for f in data:
    name = f["filename"].replace(root, "")
    if not name.startswith("src/"):
        continue
    folder = os.path.dirname(name)
    c, n = f["summary"]["lines"]["covered"], f["summary"]["lines"]["count"]
    a = folders.setdefault(folder, [0, 0])
    a[0] += c; a[1] += n
tc = sum(a[0] for a in folders.values()); tn = sum(a[1] for a in folders.values())
print("fuzz-coverage: lines of src/ reached by the corpora")
for k in sorted(folders):
    c, n = folders[k]
    print(f"  {k:<16} {c:6d} / {n:6d}  {100.0 * c / max(n, 1):5.1f} %")
print(f"  {'total':<16} {tc:6d} / {tn:6d}  {100.0 * tc / max(tn, 1):5.1f} %")
PY
  echo "fuzz: per file: $logs/coverage.txt; line by line:"
  echo "  llvm-cov show ${objs[*]:1} -instr-profile=$cbin/all.profdata FILE"
}

set_crypto "${FUZZ_CRYPTO:-bearssl}"
cmd=${1:-}
shift || true
# One harness of a smoke run: replay the seeds and regression inputs, then
# fuzz from a fresh copy of the seeds (so a smoke run takes the same time
# every time); prints "fuzz-smoke: <crypto> <harness> ok (...)" or why not.
smoke_one() {
  local c=$1 h=$2 s=$3 ok=1
  if ! replay "$h"; then
    ok=0
    echo "fuzz-smoke: $c $h: replaying the corpus failed:"
    grep -E 'ERROR|SUMMARY|Running:|==[0-9]+==' "$logs/$h.replay.log" | head -20
  fi
  rm -rf "$out/smoke-$c/$h" && mkdir -p "$out/smoke-$c/$h"
  [ -d "$corpus.seeds/$h" ] && cp "$corpus.seeds/$h"/* "$out/smoke-$c/$h/"
  if [ $ok = 1 ] && ! fuzz_one "$h" "$s" "$logs/$h.smoke.log" "$out/smoke-$c/$h"; then
    ok=0
    echo "fuzz-smoke: $c $h: fuzzing failed (artifacts in $crashes/$h/):"
    grep -E 'ERROR|SUMMARY|Test unit written|==[0-9]+==' "$logs/$h.smoke.log" | head -20
  fi
  [ $ok = 1 ] && echo "fuzz-smoke: $c $h ok ($(stats "$logs/$h.smoke.log"))"
  return 0
}

case $cmd in
  build) build ;;
  corpus) build && gen_corpus ;;
  smoke)
    # bearssl, SECONDS per harness; then sodium and openssl (the other
    # providers, other builds of the core), replay and 1 s per harness,
    # unless FUZZ_CRYPTO names one provider
    secs=${1:-3}
    passed=0 failed=0
    providers=${FUZZ_CRYPTO:-bearssl sodium openssl}
    for c in $providers; do
      set_crypto "$c"
      s=$secs
      [ "$c" = bearssl ] || [ -n "${FUZZ_CRYPTO:-}" ] || s=1
      if ! build || ! gen_corpus; then
        echo "fuzz-smoke: $c: the build or the corpus generation failed"
        failed=$((failed + 1))
        continue
      fi
      # Two harnesses at a time (each libFuzzer process uses one core; CI
      # has 2), each writing its verdict to a file; shown in order after.
      for h in "${harnesses[@]}"; do
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
        smoke_one "$c" "$h" "$s" > "$logs/$h.verdict" 2>&1 &
      done
      wait
      for h in "${harnesses[@]}"; do
        cat "$logs/$h.verdict"
        if grep -q "^fuzz-smoke: $c $h ok" "$logs/$h.verdict"; then
          passed=$((passed + 1))
        else
          failed=$((failed + 1))
        fi
      done
    done
    echo "fuzz-smoke: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    ;;
  run)
    # the long run: every harness (or those named) SECONDS (default 600)
    # on all cores, then each corpus merged (libFuzzer -merge=1: the
    # smallest set of inputs with the same coverage) and the coverage of
    # src/ by all merged corpora
    secs=${1:-600}
    shift || true
    [ $# -gt 0 ] && harnesses=("$@")
    jobs=${FUZZ_JOBS:-$(nproc)}
    build && gen_corpus || exit 1
    echo "fuzz: ${#harnesses[@]} harnesses x ${secs}s, $jobs at a time, nice -n 19; load $(cut -d' ' -f1-3 /proc/loadavg)"
    status=0
    pids=() names=()
    for h in "${harnesses[@]}"; do
      while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
      echo "fuzz: $h for ${secs}s (log $logs/$h.run.log)"
      fuzz_one "$h" "$secs" "$logs/$h.run.log" "$corpus/$h" &
      pids+=($!) names+=("$h")
    done
    for i in "${!pids[@]}"; do
      if ! wait "${pids[$i]}"; then
        status=1
        echo "fuzz: ${names[$i]} FAILED (artifacts in $crashes/${names[$i]}/)"
      fi
    done
    for h in "${harnesses[@]}"; do
      before=$(ls "$corpus/$h" | wc -l)
      merge_corpus "$h"
      echo "fuzz: $h $(stats "$logs/$h.run.log") corpus=$before merged=$(ls "$corpus/$h" | wc -l)"
    done
    coverage_report "${harnesses[@]}" || status=1
    exit $status
    ;;
  coverage)
    # which lines of src/ the corpora of the harnesses reach (default all)
    [ $# -gt 0 ] && harnesses=("$@")
    coverage_report "${harnesses[@]}"
    ;;
  speed)
    # executions per CPU second of each harness in the SPEED=1 build (the
    # fuzzer's coverage only, -O2: fuzz/Makefile), fuzzing SECONDS from a
    # fresh copy of the seeds, one harness at a time; CPU seconds, not wall
    # seconds, because the machine is shared: what a harness gets from one
    # core is what it does per second of CPU. FUZZ_PROFILE=1: a perf
    # profile of each (the functions above 2 % of the samples)
    secs=${1:-20}
    shift || true
    [ $# -gt 0 ] && harnesses=("$@")
    sbin=$out/build-$crypto-speed
    nice -n 19 make -s -f fuzz/Makefile -j"$jobs" CRYPTO="$crypto" OUT="$sbin" SPEED=1 || exit 1
    rm -rf "$corpus.seeds" && "$sbin/gen_corpus" "$corpus.seeds" > /dev/null || exit 1
    echo "fuzz-speed: load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, ${secs}s per harness"
    for h in "${harnesses[@]}"; do
      d=$out/speed-$crypto/$h
      rm -rf "$d" && mkdir -p "$d" "$crashes/$h"
      [ -d "$corpus.seeds/$h" ] && cp "$corpus.seeds/$h"/* "$d/"
      log=$logs/$h.speed.log
      pre=()
      [ -n "${FUZZ_PROFILE:-}" ] && pre=(perf record -q -o "$logs/$h.perf.data" --)
      "${pre[@]}" perf stat -x, -e task-clock -o "$log.cpu" "$sbin/$h" -max_total_time="$secs" -timeout=25 \
        -max_len="$(max_len_of "$h")" -dict="$(dict_of "$h")" -print_final_stats=1 \
        -artifact_prefix="$crashes/$h/" "$d" > "$log" 2>&1
      n=$(sed -n "s/^stat::number_of_executed_units: *//p" "$log" | tail -1)
      ms=$(awk -F, '/task-clock/ {printf "%d", $1}' "$log.cpu")
      eps=$(( ${n:-0} * 1000 / (${ms:-0} > 0 ? ms : 1) ))
      echo "fuzz-speed: $h $eps exec/s of CPU ($(stats "$log"), ${ms}ms CPU in ${secs}s)"
      if [ -n "${FUZZ_PROFILE:-}" ]; then
        perf report -q -i "$logs/$h.perf.data" --no-children --percent-limit 2 --stdio \
          --sort symbol -g none 2>/dev/null | sed "s/ *- *- *\$//; s/ *\$//; /^\$/d; s/^/    /" | head -12
      fi
    done
    ;;
  repro)
    h=${1:?usage: scripts/fuzz.sh repro HARNESS FILE}
    f=${2:?usage: scripts/fuzz.sh repro HARNESS FILE}
    build || exit 1
    "$bin/$h" -runs=1 "$f"
    ;;
  *)
    sed -n '2,/^set -uo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
