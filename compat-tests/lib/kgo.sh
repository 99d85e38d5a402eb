# franz-go's pkg/kgo integration tests, built once per franz-go version into work/ and run
# against both brokers with one result line per test and subtest. Sourced by the folders that
# run them (groups/, transactions/) after lib/common.sh.

kgo_build() {
  command -v go >/dev/null || apt_install golang-go
  command -v jq >/dev/null || apt_install jq
  local ver src dir
  ver="$(cd "$COMPAT_DIR/franz-go" && go list -m -f '{{.Version}}' github.com/twmb/franz-go)"
  src="$(cd "$COMPAT_DIR/franz-go" && go mod download -json "github.com/twmb/franz-go@$ver" | jq -r .Dir)"
  KGO_TESTBIN="$COMPAT_DIR/work/kgo-$ver.test"
  if [[ ! -x "$KGO_TESTBIN" ]]; then
    dir="$COMPAT_DIR/work/franz-go-$ver"
    if [[ ! -d "$dir" ]]; then
      log "copying franz-go $ver module to $dir"
      rm -rf "$dir.tmp"
      cp -r "$src" "$dir.tmp"
      chmod -R u+w "$dir.tmp"
      mv "$dir.tmp" "$dir"
    fi
    log "compiling franz-go $ver pkg/kgo tests (go test -c)"
    (cd "$dir/pkg/kgo" && go test -c -o "$KGO_TESTBIN.tmp" .) >&2
    mv "$KGO_TESTBIN.tmp" "$KGO_TESTBIN"
  fi
}

# kgo_suite NAME REGEX RECORDS: run the tests against both brokers (KGO_TEST_RECORDS=RECORDS
# unless set), one result line per test and subtest. A test that passes against Kafka and is
# skipped by the test itself against Sluice (a feature Sluice does not advertise) is SKIP.
kgo_suite() {
  local name=$1 regex=$2 records=$3 side addr rc
  kgo_build
  local -A st=()
  for side in kafka sut; do
    if [[ $side == kafka ]]; then addr=$KAFKA_ADDR; else addr=$SLUICE_ADDR; fi
    log "franz-go kgo tests -run '$regex' against $side ($addr); log ${OUT_DIR#"$COMPAT_DIR/"}/$name.$side.log"
    rc=0
    local t0=$SECONDS
    (mkdir -p "$HERE/work" && cd "$HERE/work" && KGO_SEEDS="$addr" KGO_TEST_RF=1 KGO_TEST_RECORDS="${KGO_TEST_RECORDS:-$records}" \
      timeout --kill-after=10 "${KGO_SUITE_TIMEOUT:-15m}" "$KGO_TESTBIN" -test.v -test.count=1 \
      -test.timeout "${KGO_SUITE_TIMEOUT:-15m}" -test.run "$regex") \
      >"$OUT_DIR/$name.$side.log" 2>&1 || rc=$?
    log "kgo tests on $side: exit $rc in $((SECONDS - t0))s"
    st[$side]=$rc
  done
  # Per test: "--- PASS: TestX/sub (1.23s)"; a test missing on one side (crash, timeout) = "none".
  local tests t k s result note
  tests="$(cat "$OUT_DIR/$name.kafka.log" "$OUT_DIR/$name.sut.log" |
    sed -nE 's/^ *--- (PASS|FAIL|SKIP): ([^ ]+) .*/\2/p' | sort -u)"
  kgo_status() { sed -nE "s/^ *--- (PASS|FAIL|SKIP): $(sed 's/[][\.*^$/]/\\&/g' <<<"$2") .*/\1/p" "$1" | head -1; }
  for t in $tests; do
    k="$(kgo_status "$OUT_DIR/$name.kafka.log" "$t")"
    s="$(kgo_status "$OUT_DIR/$name.sut.log" "$t")"
    k=${k:-none} s=${s:-none}
    note=""
    if [[ $k == PASS && $s == PASS ]]; then
      result=PASS
    elif [[ $s == SKIP && ($k == SKIP || $k == PASS) ]]; then
      result=SKIP
      [[ $k == PASS ]] && note="skipped by the test against $SUT_NAME"
      [[ $k == PASS && $t == *848* ]] && note="$note: KIP-848 (ConsumerGroupHeartbeat) not advertised"
    elif [[ $k != PASS && $k != SKIP ]]; then
      result=FAIL note="fails against the reference Kafka: ${OUT_DIR#"$COMPAT_DIR/"}/$name.kafka.log"
    elif [[ $SUT_NAME == sluice ]] && note="$(known_failure "kgo:$t")"; then
      result=XFAIL
    else
      result=FAIL note="${OUT_DIR#"$COMPAT_DIR/"}/$name.sut.log"
    fi
    record "kgo:$t" "$k" "$s" "$result" "$note"
  done
  if [[ ${st[kafka]} != 0 ]] || [[ -z "$tests" ]]; then
    record "$name" "$(_status_word "${st[kafka]}")" "$(_status_word "${st[sut]}")" FAIL "test binary failed against the reference Kafka"
  fi
  return 0
}
