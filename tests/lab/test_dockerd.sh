#!/bin/bash
# virtnat beside a real dockerd (Debian's docker.io 20.10, started in the lab's host namespace
# by coexist_lib.sh with --ip6tables), which sets the FORWARD policy of iptables and of
# ip6tables to DROP, and makes DOCKER-USER in iptables only.
#   bash tests/lab/test_dockerd.sh BUILD_DIR
#   1. apply puts virtnat's accept rules on top of DOCKER-USER, and of ip6tables' FORWARD:
#      forwards, egress, DHCP, DNS pass in both families; Docker's policies are left as they are
#   2. control: without them the forward dies, doctor names ip filter FORWARD, status says
#      blocked; watch puts them back within a second
#   3. dockerd restarts with watch running: forwards and egress keep working
#   4. down removes exactly virtnat's rules, in both tools
# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "${1:-}"
# shellcheck source=tests/lab/coexist_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/coexist_lib.sh"
# shellcheck source=tests/lab/coexist_net.sh
source "$(dirname "${BASH_SOURCE[0]}")/coexist_net.sh"

T0=$EPOCHREALTIME
lab_start
cn_setup
if ! cx_dockerd_start "$HOST_NS"; then
  echo "Bail out! dockerd did not start"
  echo "0 passed, 1 failed"
  exit 1
fi
ipt() { ip netns exec "$HOST_NS" iptables -w "$@"; }
policy() { ipt -S FORWARD | awk '$1 == "-P" { print $3 }'; }
ours() { ipt -S DOCKER-USER | grep -c -- '--comment virtnat'; }
all_ours() { [ "$(ours)" = 4 ]; }
first_is_ours() { ipt -S DOCKER-USER | sed -n 2p | grep -q -- '--comment virtnat'; }
ip6t() { ip netns exec "$HOST_NS" ip6tables -w "$@"; }
policy6() { ip6t -S FORWARD | awk '$1 == "-P" { print $3 }'; }
ours6() { ip6t -S FORWARD | grep -c -- '--comment virtnat'; }
expect_value "dockerd set the FORWARD policy to DROP" "$(policy)" DROP
expect_value "dockerd set ip6tables' FORWARD policy to DROP" "$(policy6)" DROP
check_exit "and made no DOCKER-USER in ip6tables" 1 ip6t -S DOCKER-USER
docker_user_before=$(ipt -S DOCKER-USER)
forward6_before=$(ip6t -S FORWARD)

note "1. apply"
out=$(vn apply 2>&1)
note "apply said: $(tr '\n' '|' <<<"$out")"
has_text "apply adds virtnat's rules on top of DOCKER-USER" "$out" "accept rules on top of DOCKER-USER"
expect_value "4 accept rules (in and out of nbr0 and vsbr0)" "$(ours)" 4
check "they are on top" first_is_ours
expect_value "the FORWARD policy is still Docker's DROP" "$(policy)" DROP
has_text "and on top of ip6tables' FORWARD" "$out" "accept rules on top of FORWARD (ip6tables)"
expect_value "4 accept rules there (in and out of nbr0 and vsbr0)" "$(ours6)" 4
expect_value "ip6tables' FORWARD policy is still Docker's DROP" "$(policy6)" DROP
cn_plug || fail "sg1 plugged into vsbr0"
cn_must_pass "dockerd"
cn_must_not "dockerd"
cn_doctor_ok "dockerd, after apply"
expect_value "status: the forward to lxdev01 is active" "$(cn_forward_state 2222)" active

note "2. control: without virtnat's rules in DOCKER-USER"
while read -r rule; do
  # shellcheck disable=SC2086 # the rule's words are iptables arguments
  ipt -D ${rule#-A }
done < <(ipt -S DOCKER-USER | grep -- '--comment virtnat')
expect_value "control: virtnat's rules are gone" "$(ours)" 0
expect_no_reply c1 tcp "$CN_PUB" 2222 any "control: without them c1 -> $CN_PUB:2222 gets nothing"
cn_doctor_blocks "control: without them" "ip filter FORWARD"
expect_value "control: status shows the forward blocked" "$(cn_forward_state 2222)" blocked
warnings=$(vn apply 2>&1 >/dev/null | grep -c '^warning:')
expect_value "apply would not have warned: it puts them back" "$warnings" 0
expect_value "apply put them back" "$(ours)" 4
while read -r rule; do
  # shellcheck disable=SC2086 # the rule's words are ip6tables arguments
  ip6t -D ${rule#-A }
done < <(ip6t -S FORWARD | grep -- '--comment virtnat')
expect_no_reply c1 tcp "$CN_PUB6" 2222 any "control: without them in ip6tables c1 -> [$CN_PUB6]:2222 gets nothing"
expect_reply c1 tcp "$CN_PUB" 2222 "lxdev01 8080" "control: while IPv4 still passes"
cn_doctor_blocks "control: without them in ip6tables" "ip6 filter FORWARD"
vn apply >/dev/null 2>&1
expect_value "apply put the ip6tables rules back" "$(ours6)" 4
expect_reply c1 tcp "$CN_PUB6" 2222 "lxdev01 8080 $CN_C1_6" "and c1 -> [$CN_PUB6]:2222 reaches lxdev01 again"

ip netns exec "$HOST_NS" "$VIRTNAT" --config "$CONFIG" watch --recheck 30 >"$WORK_DIR/watch.log" 2>&1 &
WATCH_PID=$!
SERVER_PIDS+=("$WATCH_PID")
cx_wait_for 10 grep -q "loaded" "$WORK_DIR/watch.log"
sleep 1
ipt -D DOCKER-USER -i vsbr0 -m comment --comment virtnat -j ACCEPT
t=$EPOCHREALTIME
if cx_wait_for 3 all_ours; then
  took=$(cx_elapsed "$t")
  if awk -v s="$took" 'BEGIN { exit !(s < 1.0) }'; then pass "watch puts the deleted rule back within a second (${took}s)"; else fail "watch puts the rule back within a second" "took ${took}s"; fi
else
  fail "watch puts the deleted rule back" "$(cat "$WORK_DIR/watch.log")"
fi
check "on top again" first_is_ours

note "3. dockerd restart with watch running"
if cx_dockerd_restart; then pass "dockerd restarted in ${CX_SECONDS}s"; else fail "dockerd restarted"; fi
sleep 1
expect_value "after the restart virtnat's 4 rules are in DOCKER-USER" "$(ours)" 4
check "and on top" first_is_ours
expect_value "the FORWARD policy is Docker's DROP" "$(policy)" DROP
expect_value "virtnat's 4 rules are still on top of ip6tables' FORWARD" "$(ours6)" 4
cn_must_pass "after a dockerd restart"
kill "$WATCH_PID" 2>/dev/null
wait "$WATCH_PID" 2>/dev/null

note "4. down"
out=$(vn down 2>&1)
has_text "down removes virtnat's rules from DOCKER-USER" "$out" "removed virtnat's 4 rules from DOCKER-USER"
expect_value "DOCKER-USER is as Docker made it" "$(ipt -S DOCKER-USER)" "$docker_user_before"
expect_value "the FORWARD policy is still DROP" "$(policy)" DROP
has_text "down removes virtnat's rules from ip6tables' FORWARD" "$out" "removed virtnat's 4 rules from FORWARD (ip6tables)"
expect_value "ip6tables' FORWARD is as Docker made it" "$(ip6t -S FORWARD)" "$forward6_before"
note "total $(cx_elapsed "$T0")s"
finish
