#!/bin/bash
# virtnat doctor and status against a foreign table of the admin's that drops a forward's
# traffic after DNAT (a drop in any table is final: virtnat's accepts cannot undo it).
#   bash tests/lab/test_doctor.sh BUILD_DIR
# Control first: without the table everything passes, doctor exits 0 and the forward is active.
# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "${1:-}"
# shellcheck source=tests/lab/coexist_net.sh
source "$(dirname "${BASH_SOURCE[0]}")/coexist_net.sh"

lab_start
cn_setup
out=$(vn apply 2>&1)
if [[ "$out" != *warning* ]]; then pass "control: apply warns about nothing"; else fail "control: apply warns about nothing" "$out"; fi
cn_plug || fail "sg1 plugged into vsbr0"
cn_must_pass "control (no foreign table)"
cn_doctor_ok "control (no foreign table)"
expect_value "control: status shows the forward to lxdev01 active" "$(cn_forward_state 2222)" active

note "an admin's table drops the forward's traffic to lxdev01:8080 after DNAT"
ip netns exec "$HOST_NS" nft -f - <<'NFT'
table inet admin {
  chain admin_fwd {
    type filter hook forward priority 0; policy accept;
    ip daddr 10.1.1.28 tcp dport 8080 counter drop
  }
}
NFT
expect_no_reply c1 tcp "$CN_PUB" 2222 any "with the admin's table c1 -> $CN_PUB:2222 gets nothing"
expect_reply c1 tcp "$CN_PUB" 2224 "sadev01 8080 198.51.100.10" "the other forward still works"
cn_doctor_blocks "with the admin's table" "inet admin admin_fwd"
out=$(vn doctor 2>&1)
has_text "doctor's line names the rule handle, what it blocks and a fix" "$(grep -F 'inet admin' <<<"$out" | head -1)" "rule handle"
has_text "doctor's line says which forward" "$out" "forward tcp $CN_PUB:2222 -> lxdev01 10.1.1.28:8080 (after DNAT)"
json=$(vn doctor --json 2>/dev/null)
expect_value "doctor --json: blocks" "$(jq -r .blocks <<<"$json")" true
expect_value "doctor --json: the finding's table" "$(jq -r '[.findings[] | select(.kind == "forward")][0].ruleset' <<<"$json")" "inet admin"
expect_value "status --json: the forward is blocked" "$(cn_forward_state 2222)" blocked
expect_value "status --json: the blocking rule" \
  "$(vn status --json | jq -r '.forwards[] | select(.port == "2222") | .blocked_by[0] | "\(.ruleset) \(.chain) \(.rule)"')" \
  "inet admin admin_fwd ip daddr 10.1.1.28 tcp dport 8080 counter drop"
expect_value "status --json: the other forward is active" "$(cn_forward_state 2224)" active
has_match "status: STATE blocked in the table" <(vn status 2>&1) "2222 +lxdev01.* blocked"
warnings=$(vn apply 2>&1 >/dev/null | grep -c '^warning:')
expect_value "apply warns once" "$warnings" 1

note "without the table again"
ip netns exec "$HOST_NS" nft delete table inet admin
cn_doctor_ok "after the table is gone"
expect_value "status: active again" "$(cn_forward_state 2222)" active
expect_reply c1 tcp "$CN_PUB" 2222 "lxdev01 8080 198.51.100.10" "c1 -> $CN_PUB:2222 reaches lxdev01 again"
finish
