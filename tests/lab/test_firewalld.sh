#!/bin/bash
# virtnat beside a real firewalld (Debian's 1.3, started in the lab's host namespace by
# coexist_lib.sh): its bridges get a zone of their own, runtime and permanent.
#   bash tests/lab/test_firewalld.sh BUILD_DIR
#   1. apply creates zone virtnat with nbr0 (external nat) and vsbr0 (standalone nat): DHCP,
#      DNS, forwards and egress pass; the LAN gets nothing of the guests' dnsmasq, unforwarded
#      ports and guests by address get nothing, guests get nothing else of the host
#   2. firewall-cmd --reload without watch: the permanent zone brings everything back
#   3. a bridge taken out of the zone at runtime: DHCP fails and doctor names firewalld
#      (control), a reload restores it; with watch running it is back within a second
#   4. network stop takes its bridge out of the zone; down removes exactly what virtnat added
# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "${1:-}"
# shellcheck source=tests/lab/coexist_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/coexist_lib.sh"
# shellcheck source=tests/lab/coexist_net.sh
source "$(dirname "${BASH_SOURCE[0]}")/coexist_net.sh"

T0=$EPOCHREALTIME
lab_start
cn_setup
if ! cx_firewalld_start "$HOST_NS"; then
  echo "Bail out! firewalld did not start"
  echo "0 passed, 1 failed"
  exit 1
fi
# virtnat talks to firewalld over D-Bus: it runs in firewalld's mount namespace.
VN=(cx_exec firewalld "$VIRTNAT" --config "$CONFIG")
FW=cx_firewall_cmd
zone_of() { $FW "$@" --get-zone-of-interface="$2" 2>/dev/null; }
runtime_zone() { cx_firewall_cmd --get-zone-of-interface="$1" 2>/dev/null; }
permanent_zone() { cx_firewall_cmd --permanent --get-zone-of-interface="$1" 2>/dev/null; }
dispatched() { ip netns exec "$HOST_NS" nft list chain inet firewalld filter_INPUT_ZONES 2>/dev/null | grep -q "\"$1\" goto filter_IN_virtnat"; }
zones_before=$(cx_exec firewalld ls /etc/firewalld/zones | tr '\n' ' ')
active_before=$($FW --get-active-zones 2>&1)

note "1. apply with firewalld running"
out=$(vn apply 2>&1)
rc=$?
note "apply said: $(tr '\n' '|' <<<"$out")"
if [ $rc -eq 0 ] && [[ "$out" == *"created zone virtnat"* ]] && [[ "$out" == *"added vsbr0 to zone virtnat"* ]]; then
  pass "apply creates zone virtnat and adds the bridges"
else
  fail "apply creates zone virtnat and adds the bridges" "exit $rc" "$out"
fi
for br in nbr0 vsbr0; do
  expect_value "$br is in zone virtnat (runtime)" "$(runtime_zone $br)" virtnat
  expect_value "$br is in zone virtnat (permanent)" "$(permanent_zone $br)" virtnat
done
expect_value "the zone's target is ACCEPT (forwarding is virtnat's table's business)" \
  "$($FW --permanent --zone=virtnat --get-target 2>&1)" ACCEPT
expect_value "the zone's services: dhcp, dhcpv6, dns" "$($FW --zone=virtnat --list-services 2>&1)" "dhcp dhcpv6 dns"
cn_plug || fail "sg1 plugged into vsbr0"
cn_must_pass "firewalld"
cn_must_not "firewalld"
expect_no_reply "$CN_SG1" tcp 10.2.2.1 9999 any "firewalld: a guest gets nothing else of the host (sg1 -> 10.2.2.1:9999)"
expect_reply host tcp 10.2.2.1 9999 "hostsvc 9999" "control: the host's service on 9999 answers the host itself"
cn_doctor_ok "firewalld, after apply"
expect_value "status: the forward to sadev01 is active" "$(cn_forward_state 2224)" active
t=$EPOCHREALTIME
out=$(vn apply 2>&1)
if [[ "$out" != *firewalld* ]]; then pass "a second apply changes nothing in firewalld ($(cx_elapsed "$t")s)"; else fail "a second apply changes nothing in firewalld" "$out"; fi

note "2. firewall-cmd --reload without watch"
check "firewall-cmd --reload" cx_firewalld_reload
expect_value "after the reload vsbr0 is in zone virtnat (from the permanent configuration)" "$(runtime_zone vsbr0)" virtnat
cn_must_pass "after a reload"

note "3. a bridge taken out of the zone at runtime"
check "firewall-cmd --zone=virtnat --remove-interface=vsbr0" $FW --zone=virtnat --remove-interface=vsbr0
expect_value "control: without the zone sg1 gets no lease" "$(cn_dhcp 2)" ""
cn_doctor_blocks "control: without the zone" "inet firewalld"
check "firewall-cmd --reload" cx_firewalld_reload
expect_value "a reload brings vsbr0 back into zone virtnat" "$(runtime_zone vsbr0)" virtnat
expect_value "after the reload sg1 gets its lease again" "$(cn_dhcp)" "$CN_GUEST_ADDR"

note "   ... with watch running"
# nsenter itself (not the cx_exec function) in the background: $! is watch's pid.
nsenter -t "${CX_HOLDER[firewalld]}" -m -n --wd=/ -- "$VIRTNAT" --config "$CONFIG" watch --recheck 30 \
  >"$WORK_DIR/watch.log" 2>&1 &
WATCH_PID=$!
SERVER_PIDS+=("$WATCH_PID")
cx_wait_for 10 grep -q "loaded" "$WORK_DIR/watch.log"
sleep 1
$FW --zone=virtnat --remove-interface=vsbr0 >/dev/null 2>&1
t=$EPOCHREALTIME
if cx_wait_for 3 dispatched vsbr0; then
  took=$(cx_elapsed "$t")
  if awk -v s="$took" 'BEGIN { exit !(s < 1.0) }'; then pass "watch puts vsbr0 back into zone virtnat within a second (${took}s)"; else fail "watch puts vsbr0 back within a second" "took ${took}s"; fi
else
  fail "watch puts vsbr0 back into zone virtnat" "$(cat "$WORK_DIR/watch.log")"
fi
expect_value "the watch's repair is in firewalld's runtime configuration" "$(runtime_zone vsbr0)" virtnat
has_text "watch logged the repair" "$(cat "$WORK_DIR/watch.log")" "repaired firewalld"
check "firewall-cmd --reload with watch running" cx_firewalld_reload
sleep 1
cn_must_pass "reload with watch"
lines=$(grep -c "repaired" "$WORK_DIR/watch.log")
sleep 2
expect_value "watch is quiet while nothing changes" "$(grep -c "repaired" "$WORK_DIR/watch.log")" "$lines"
kill "$WATCH_PID" 2>/dev/null
wait "$WATCH_PID" 2>/dev/null

note "4. network stop, down"
check "virtnat network stop sanet" vn network stop sanet
expect_value "network stop takes vsbr0 out of zone virtnat (permanent)" "$(permanent_zone vsbr0)" ""
expect_value "nbr0 stays in zone virtnat" "$(permanent_zone nbr0)" virtnat
check "virtnat network start sanet" vn network start sanet
expect_value "network start puts vsbr0 back (permanent)" "$(permanent_zone vsbr0)" virtnat
out=$(vn down 2>&1)
note "down said: $(tr '\n' '|' <<<"$out")"
has_text "down deletes zone virtnat" "$out" "deleted zone virtnat"
expect_value "after down nbr0 is in no zone" "$(runtime_zone nbr0)" ""
expect_value "after down vsbr0 is in no zone" "$(runtime_zone vsbr0)" ""
expect_value "firewalld's permanent zones are as before apply" "$(cx_exec firewalld ls /etc/firewalld/zones | tr '\n' ' ')" "$zones_before"
check_exit "after down there is no table inet $TABLE" 1 nft_host list table inet "$TABLE"
expect_value "firewalld's active zones are as before apply" "$($FW --get-active-zones 2>&1)" "$active_before"

note "total $(cx_elapsed "$T0")s"
finish
