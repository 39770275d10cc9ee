#!/bin/bash
# virtnat beside ufw (Debian's 0.36, enabled in the lab's host namespace by coexist_lib.sh:
# input and forward policy DROP).
#   bash tests/lab/test_ufw.sh BUILD_DIR
#   1. apply adds ufw rules of virtnat's through ufw (route allow in/out on the bridges; DHCP,
#      DHCPv6 and DNS from vsbr0): forwards, egress, DHCP and DNS pass in both families (ufw
#      writes each rule for iptables and ip6tables); the LAN gets nothing else
#   2. `ufw reload` keeps them (ufw's own user rules); control: one deleted, the forward dies,
#      doctor names ip filter, status says blocked; watch adds it back within a second
#   3. down removes exactly virtnat's rules; ufw's policies are never touched
# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "${1:-}"
# shellcheck source=tests/lab/coexist_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/coexist_lib.sh"
# shellcheck source=tests/lab/coexist_net.sh
source "$(dirname "${BASH_SOURCE[0]}")/coexist_net.sh"

T0=$EPOCHREALTIME
lab_start
cn_setup
if ! cx_ufw_enable "$HOST_NS"; then
  echo "Bail out! ufw could not be enabled"
  echo "0 passed, 1 failed"
  exit 1
fi
# virtnat runs ufw: in ufw's mount namespace (its private /etc/ufw).
VN=(cx_exec ufw "$VIRTNAT" --config "$CONFIG")
ipt() { ip netns exec "$HOST_NS" iptables -w "$@"; }
policies() { ipt -S | awk '$1 == "-P" { printf "%s=%s ", $2, $3 }'; }
ours() { cx_exec ufw grep -c 'comment=766972746e6174$' /etc/ufw/user.rules; }
# nbr0 and vsbr0 in and out, DHCP and DNS (udp, tcp) from vsbr0, and DHCPv6 (vsbr0 is dual-stack)
RULES=8
all_ours() { [ "$(ours)" = "$RULES" ]; }
policies_before=$(policies)
note "policies with ufw: $policies_before"

note "1. apply"
out=$(vn apply 2>&1)
note "apply said: $(tr '\n' '|' <<<"$out")"
has_text "apply adds virtnat's route rules through ufw" "$out" "ufw: added \`ufw route allow in on vsbr0 comment virtnat\`"
expect_value "$RULES rules: in/out of nbr0 and vsbr0, DHCP and DNS (udp, tcp) from vsbr0, DHCPv6" "$(ours)" "$RULES"
has_match "ufw applied them to its chain ufw-user-forward" <(ipt -S ufw-user-forward) "^-A ufw-user-forward -i vsbr0 -j ACCEPT"
has_match "and to ufw6-user-forward (ip6tables)" <(ip netns exec "$HOST_NS" ip6tables -w -S ufw6-user-forward) "^-A ufw6-user-forward -i vsbr0 -j ACCEPT"
has_match "DHCPv6 from vsbr0 is in ufw6-user-input" <(ip netns exec "$HOST_NS" ip6tables -w -S ufw6-user-input) "^-A ufw6-user-input -i vsbr0 -p udp -m udp --dport 547 -j ACCEPT"
out=$(vn apply 2>&1)
lacks_text "a second apply changes nothing in ufw" "$out" "ufw:"
cn_plug || fail "sg1 plugged into vsbr0"
cn_must_pass "ufw"
cn_must_not "ufw"
expect_no_reply c1 tcp "$CN_PUB" 9999 any "ufw: the LAN still gets nothing of the host (c1 -> $CN_PUB:9999)"
cn_doctor_ok "ufw, after apply"
expect_value "status: the forward to lxdev01 is active" "$(cn_forward_state 2222)" active
expect_value "ufw's policies are untouched" "$(policies)" "$policies_before"

note "2. ufw reload; one of virtnat's rules deleted"
check "ufw reload" cx_ufw reload
expect_value "ufw reload keeps virtnat's rules (ufw's own user rules)" "$(ours)" "$RULES"
cn_must_pass "after ufw reload"
check "ufw route delete allow out on nbr0" cx_ufw route delete allow out on nbr0
expect_no_reply c1 tcp "$CN_PUB" 2222 any "control: without it c1 -> $CN_PUB:2222 gets nothing"
cn_doctor_blocks "control: without it" "ip filter"
expect_value "control: status shows the forward blocked" "$(cn_forward_state 2222)" blocked
nsenter -t "${CX_HOLDER[ufw]}" -m -n --wd=/ -- "$VIRTNAT" --config "$CONFIG" watch --recheck 30 \
  >"$WORK_DIR/watch.log" 2>&1 &
WATCH_PID=$!
SERVER_PIDS+=("$WATCH_PID")
cx_wait_for 10 grep -q "loaded" "$WORK_DIR/watch.log"
cx_wait_for 5 all_ours
expect_value "watch at its start adds it back" "$(ours)" "$RULES"
sleep 1
cx_ufw route delete allow in on vsbr0 >/dev/null 2>&1
t=$EPOCHREALTIME
if cx_wait_for 3 all_ours; then
  took=$(cx_elapsed "$t")
  if awk -v s="$took" 'BEGIN { exit !(s < 1.0) }'; then pass "watch adds a deleted rule back within a second (${took}s)"; else fail "watch adds a deleted rule back within a second" "took ${took}s"; fi
else
  fail "watch adds a deleted rule back" "$(cat "$WORK_DIR/watch.log")"
fi
check "ufw reload with watch running" cx_ufw reload
sleep 1
expect_value "after it ufw's policies are still its own" "$(policies)" "$policies_before"
cn_must_pass "ufw reload with watch"
kill "$WATCH_PID" 2>/dev/null
wait "$WATCH_PID" 2>/dev/null

note "3. down"
out=$(vn down 2>&1)
has_text "down removes virtnat's rules from ufw" "$out" "ufw: removed virtnat's $RULES rules"
expect_value "no virtnat rule left in ufw's user rules" "$(ours)" 0
expect_value "ufw's policies are untouched" "$(policies)" "$policies_before"
note "total $(cx_elapsed "$T0")s"
finish
