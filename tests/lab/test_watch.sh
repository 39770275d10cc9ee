#!/bin/bash
# virtnat watch repairs drift within a second: a flushed ruleset, a deleted table, a removed
# forward element, a rule added by somebody else. It logs each repair and does not loop on
# its own changes.
#   bash tests/lab/test_watch.sh BUILD_DIR
# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "${1:-}"

lab_start

write_config <<'EOF2'
[[forward]]
host = "lxdev01"
port = "2222"
to_port = "22"
source = ["198.51.100.10/32"]
EOF2
start_server g1 lxdev01 --tcp 22

check "virtnat apply" virtnat apply
expect_reply c1 tcp 198.51.100.1 2222 "lxdev01 22 198.51.100.10" "the forward works before any drift"

WATCH_LOG="$WORK_DIR/watch.log"
ip netns exec "$HOST_NS" "$VIRTNAT" --config "$CONFIG" watch --recheck 30 >"$WATCH_LOG" 2>&1 &
WATCH_PID=$!
SERVER_PIDS+=("$WATCH_PID")
sleep 0.5

# wait_repaired DESCRIPTION: the forward is back within one second.
wait_repaired() {
  local desc=$1 deadline=$((SECONDS + 3)) started took_ms
  started=$(date +%s%N)
  while [ $SECONDS -lt $deadline ]; do
    if nft_host list map inet "$TABLE" fwd_dnat 2>/dev/null | grep_q "198.51.100.1 . tcp . 2222"; then
      took_ms=$((($(date +%s%N) - started) / 1000000))
      if [ "$took_ms" -lt 1000 ]; then
        pass "$desc: repaired in ${took_ms} ms"
      else
        fail "$desc: repaired, but in ${took_ms} ms (over 1 s)"
      fi
      return
    fi
    sleep 0.05
  done
  fail "$desc: not repaired within 2 s" "$(tail -5 "$WATCH_LOG")"
}

ip netns exec "$HOST_NS" nft flush ruleset
wait_repaired "nft flush ruleset"
expect_reply c1 tcp 198.51.100.1 2222 "lxdev01 22 198.51.100.10" "after flush + repair the forward works"

ip netns exec "$HOST_NS" nft delete table inet "$TABLE"
wait_repaired "nft delete table"

ip netns exec "$HOST_NS" nft delete element inet "$TABLE" fwd_dnat '{ 198.51.100.1 . tcp . 2222 }'
wait_repaired "a forward element deleted"

ip netns exec "$HOST_NS" nft insert rule inet "$TABLE" prerouting_filter tcp dport 2222 drop
sleep 1
if nft_host list chain inet "$TABLE" prerouting_filter | grep_q "tcp dport 2222 drop"; then
  fail "a rule somebody inserted into virtnat's chain is removed"
else
  pass "a rule somebody inserted into virtnat's chain is removed"
fi
expect_reply c1 tcp 198.51.100.1 2222 "lxdev01 22 198.51.100.10" "after the foreign rule is gone the forward works"
expect_no_reply c2 tcp 198.51.100.1 2222 timeout "the allowlist still holds after the repairs"

repairs=$(grep -c "repaired" "$WATCH_LOG")
sleep 2
repairs_later=$(grep -c "repaired" "$WATCH_LOG")
if [ "$repairs" -eq "$repairs_later" ] && [ "$repairs" -ge 4 ]; then
  pass "each drift is repaired and logged once ($repairs repairs), no loop on its own changes"
else
  fail "each drift is repaired and logged once, no loop" "before $repairs, 2 s later $repairs_later" "$(cat "$WATCH_LOG")"
fi
if grep -q "repaired table inet $TABLE (nftables changed: table missing)" "$WATCH_LOG"; then
  pass "the log says what was found"
else
  fail "the log says what was found" "$(cat "$WATCH_LOG")"
fi

kill "$WATCH_PID" 2>/dev/null
wait "$WATCH_PID" 2>/dev/null
if grep -q "stopped" "$WATCH_LOG"; then pass "watch stops cleanly on SIGTERM"; else fail "watch stops cleanly on SIGTERM" "$(cat "$WATCH_LOG")"; fi

finish
