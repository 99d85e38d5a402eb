# shellcheck shell=bash
# Helpers for suites that run a Go module's own tests (sarama/, kafka-go/) against both brokers.
# Sourced after lib/common.sh.
#
# The pinned module is copied from the Go module cache (`go mod download -json`) into the
# folder's git-ignored work/, and its test binary is compiled there once per version
# (`go test -c`), as lib/kgo.sh does for franz-go. Nothing of the module lives in the repository.

# gomod_copy FOLDER_DIR MODULE VERSION: copy MODULE@VERSION from the module cache to
# FOLDER_DIR/work/<name>@VERSION (once); prints that directory.
gomod_copy() {
  local dir=$1 mod=$2 ver=$3 src dst
  command -v go >/dev/null || apt_install golang-go
  command -v jq >/dev/null || apt_install jq
  dst="$dir/work/$(basename "$mod")@$ver"
  if [[ ! -d "$dst" ]]; then
    src="$(cd "$dir" && go mod download -json "$mod@$ver" | jq -r .Dir)"
    [[ -d "$src" ]] || die "go mod download $mod@$ver failed"
    log "copying $mod $ver from the module cache to ${dst#"$COMPAT_DIR/"}"
    rm -rf "$dst.tmp"
    cp -r "$src" "$dst.tmp"
    chmod -R u+w "$dst.tmp"
    mv "$dst.tmp" "$dst"
  fi
  echo "$dst"
}

# gotest_run LOG DIR BIN REGEX TIMEOUT: run the test binary BIN in DIR (its package directory, for
# testdata) with -test.v -test.run REGEX, bounded by TIMEOUT (e.g. 10m); output to LOG; echoes the
# exit status. The environment (broker address variables) is the caller's.
gotest_run() {
  local log=$1 dir=$2 bin=$3 regex=$4 to=$5 rc=0 t0=$SECONDS
  (cd "$dir" && timeout --kill-after=10 "$to" "$bin" -test.v -test.count=1 -test.timeout "$to" \
    -test.run "$regex") >"$log" 2>&1 </dev/null || rc=$?
  log "  $(grep -c -- '^--- PASS' "$log" || true) passed, $(grep -c -- '^--- FAIL' "$log" || true) failed," \
    "$(grep -c -- '^--- SKIP' "$log" || true) skipped (top-level tests), exit $rc in $((SECONDS - t0))s"
  echo "$rc"
}

# gotest_retry_failed LOG DIR BIN TIMEOUT PREFIX: after gotest_run, run the top-level tests that
# failed in LOG once more in one process (same broker, same environment), except those listed in
# known-failures.txt as PREFIX:Test on the Sluice side (expected to fail). The first attempt's
# result lines in LOG become "--- (first attempt) FAIL: ..." (ignored by gotest_compare), its whole
# output is kept in LOG.retried, the names go to LOG.retried.names, and the second attempt's
# output is appended to LOG: it decides. The reason is the same as in gotest_run_each.
gotest_retry_failed() {
  local log=$1 dir=$2 bin=$3 to=$4 prefix=$5 t failed=() re
  : >"$log.retried"
  : >"$log.retried.names"
  for t in $(sed -nE 's/^--- FAIL: ([A-Za-z0-9_]+) .*/\1/p' "$log"); do
    [[ $log == *.sut.log && $SUT_NAME == sluice ]] && known_failure "$prefix:$t" >/dev/null && continue
    failed+=("$t")
  done
  ((${#failed[@]})) || return 0
  cp "$log" "$log.retried"
  printf '%s\n' "${failed[@]}" >"$log.retried.names"
  for t in "${failed[@]}"; do
    sed -i -E "s/^( *)--- (PASS|FAIL|SKIP): ($t)( |\/)/\1--- (first attempt) \2: \3\4/" "$log"
  done
  re="^($(IFS='|'; echo "${failed[*]}"))\$"
  log "  running again once: ${failed[*]}"
  (cd "$dir" && timeout --kill-after=10 "$to" "$bin" -test.v -test.count=1 -test.timeout "$to" \
    -test.run "$re") >>"$log" 2>&1 </dev/null || true
  for t in "${failed[@]}"; do
    grep -qE -- "^--- (PASS|FAIL|SKIP): $t " "$log" || echo "--- FAIL: $t (second attempt: no result, panic or timeout)" >>"$log"
  done
}

# gotest_run_each LOG DIR BIN TIMEOUT TEST...: like gotest_run, but one process per top-level
# test (-test.run '^TEST$', each bounded by TIMEOUT), so that a test that panics or hangs (which
# ends a go test binary) costs only its own result; outputs appended to LOG. A test that fails is
# run once more, on both brokers alike (the third-party tests have deadlines of their own that a
# loaded 2-core machine misses now and then): the first attempt's output goes to LOG.retried, the
# test's name to LOG.retried.names, and the second attempt decides (not for tests listed in
# known-failures.txt as $GOTEST_PREFIX:Test on the Sluice side). Echoes the number of tests that
# failed twice. GOTEST_SKIP (optional) is passed as -test.skip.
gotest_run_each() {
  local log=$1 dir=$2 bin=$3 to=$4 t rc bad=0 t0=$SECONDS attempt one
  shift 4
  one="$log.one"
  : >"$log"
  : >"$log.retried"
  : >"$log.retried.names"
  for t in "$@"; do
    for attempt in 1 2; do
      rc=0
      (cd "$dir" && timeout --kill-after=10 "$to" "$bin" -test.v -test.count=1 -test.timeout "$to" \
        -test.run "^$t\$" ${GOTEST_SKIP:+-test.skip "$GOTEST_SKIP"}) >"$one" 2>&1 </dev/null || rc=$?
      # A panic or timeout leaves no "--- FAIL: TEST" line: add one so the test is counted.
      if ((rc != 0)) && ! grep -qE -- "^--- (PASS|FAIL|SKIP): $t " "$one"; then
        echo "--- FAIL: $t (exit $rc: panic or timeout, see above)" >>"$one"
      fi
      if ((rc == 0 || attempt == 2)) ||
        { [[ -n ${GOTEST_PREFIX:-} && $log == *.sut.log && $SUT_NAME == sluice ]] &&
          known_failure "$GOTEST_PREFIX:$t" >/dev/null; }; then
        cat "$one" >>"$log"
        break
      fi
      cat "$one" >>"$log.retried"
      echo "$t" >>"$log.retried.names"
    done
    ((rc == 0)) || bad=$((bad + 1))
  done
  rm -f "$one"
  log "  $(grep -c -- '^--- PASS' "$log" || true) passed, $(grep -c -- '^--- FAIL' "$log" || true) failed," \
    "$(grep -c -- '^--- SKIP' "$log" || true) skipped (top-level tests); $(wc -l <"$log.retried.names") retried:" \
    "$(tr '\n' ' ' <"$log.retried.names"); in $((SECONDS - t0))s"
  echo "$bad"
}

# gotest_status LOG TEST: PASS / FAIL / SKIP of one test or subtest in a go test -v log ("" if absent).
gotest_status() {
  sed -nE "s/^ *--- (PASS|FAIL|SKIP): $(sed 's/[][\.*^$/+?(){}|]/\\&/g' <<<"$2") \(.*/\1/p" "$1" | head -1
}

# gotest_compare NAME PREFIX: compare $OUT_DIR/NAME.kafka.log with NAME.sut.log. Every test and
# subtest goes to $OUT_DIR/NAME.tests.tsv (test, kafka, sluice); every top-level test is
# recorded as PREFIX:Test:
#   PASS  passes on both, or passes on Sluice (whatever Kafka did); XPASS if it is listed in
#         known-failures.txt (then delete the line)
#   SKIP  skipped by the test itself on both; or fails/skipped on the reference Kafka too (then
#         it is not a single-broker test here, see FINDINGS.md); or skipped on Sluice only
#   XFAIL passes on Kafka, fails on Sluice, listed in known-failures.txt as PREFIX:Test
#   FAIL  passes on Kafka, fails (or is missing: crash, timeout) on Sluice
# A test binary that fails to start (no test result at all) against Kafka is a FAIL of NAME.
gotest_compare() {
  local name=$1 prefix=$2 k s t result note
  local klog="$OUT_DIR/$name.kafka.log" slog="$OUT_DIR/$name.sut.log"
  local all
  all="$(cat "$klog" "$slog" | sed -nE 's/^ *--- (PASS|FAIL|SKIP): ([^ ]+) .*/\2/p' | sort -u)"
  : >"$OUT_DIR/$name.tests.tsv"
  for t in $all; do
    k="$(gotest_status "$klog" "$t")"
    s="$(gotest_status "$slog" "$t")"
    printf '%s\t%s\t%s\n' "$t" "${k:-none}" "${s:-none}" >>"$OUT_DIR/$name.tests.tsv"
    [[ $t == */* ]] && continue
    k=${k:-none} s=${s:-none} note=""
    local retried=""
    grep -qxF "$t" "$klog.retried.names" 2>/dev/null && retried="kafka"
    grep -qxF "$t" "$slog.retried.names" 2>/dev/null && retried="${retried:+$retried, }$SUT_NAME"
    if [[ $s == PASS ]]; then
      result=PASS
      [[ $k != PASS ]] && note="kafka: $k"
      if [[ $SUT_NAME == sluice ]] && known_failure "$prefix:$t" >/dev/null; then
        result=XPASS note="listed in known-failures.txt but passes: remove it"
      fi
    elif [[ $k == SKIP && $s == SKIP ]]; then
      result=SKIP note="skipped by the test on both"
    elif [[ $k != PASS ]]; then
      result=SKIP note="fails against the reference Kafka too: not a single-broker test here (FINDINGS.md)"
    elif [[ $s == SKIP ]]; then
      result=SKIP note="passes on Kafka, skipped by the test against $SUT_NAME"
    elif [[ $SUT_NAME == sluice ]] && note="$(known_failure "$prefix:$t")"; then
      result=XFAIL
    else
      result=FAIL note="${slog#"$COMPAT_DIR/"}"
    fi
    [[ -n $retried ]] && note="${note:+$note; }first attempt failed, run again on: $retried"
    record "$prefix:$t" "$k" "$s" "$result" "$note"
  done
  if [[ -z "$all" ]] || ! grep -qE '^--- (PASS|FAIL|SKIP)' "$klog"; then
    record "$name" "no tests" "-" FAIL "no test result against the reference Kafka: ${klog#"$COMPAT_DIR/"}"
  fi
  return 0
}
