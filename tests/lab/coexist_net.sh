# shellcheck shell=bash
# The traffic the coexistence tests (test_firewalld.sh, test_dockerd.sh, test_ufw.sh,
# test_doctor.sh) need beside another firewall: the lab's external nat network nbr0 (g1 =
# lxdev01) and a standalone nat network vsbr0 with virtnat's own dnsmasq and a DHCP guest sg1
# (sadev01). Both are dual-stack (issue 14: the shims and zones cover IPv6 too): the lab's
# LAN 2001:db8:100::/64 (lib.sh's lab6_setup), nbr0 fd00:1:1::/64, vsbr0 fd00:2:2::/64 with
# DHCPv6, router advertisements and AAAA from virtnat's dnsmasq. Source after lib.sh; call
# cn_setup after lab_start.
#
#   VN=(cmd...)        how the test runs virtnat (default: virtnat in the host namespace)
#   cn_setup           config, guest namespace sg1, servers (g1:8080, c1:7000, host:9999)
#   cn_plug            after the first apply: sg1 into vsbr0 (STP forwarding), its server
#   cn_must_pass WHAT  DHCP, DNS, both forwards, both networks' egress (each family)
#   cn_must_not WHAT   the LAN to the guests' dnsmasq, an unforwarded port, a guest by address
#   cn_doctor_ok / cn_doctor_blocks / cn_forward_state

CN_PUB=198.51.100.1
CN_GUEST_MAC=02:FF:0A:0A:07:1C
CN_GUEST_ADDR=10.2.2.28
CN_PUB6=$LAB6_PUB
CN_C1_6=$LAB6_C1
CN_SA_GW6=fd00:2:2::1
CN_GUEST_ADDR6=fd00:2:2::1c # sadev01: derived from 10.2.2.28 (0x1c)
CN_SG1="$LAB_PREFIX-sg1"
VN=()

vn() { if [ ${#VN[@]} -gt 0 ]; then "${VN[@]}" "$@"; else virtnat "$@"; fi; }

cn_cleanup() {
  delete_namespaces "$CN_SG1"
  lab_cleanup
}

cn_setup() {
  trap cn_cleanup EXIT
  chmod 0755 "$WORK_DIR" # dnsmasq (user dnsmasq) reads its hosts files under it
  export VIRTNAT_LIB_DIR="$WORK_DIR/lib" VIRTNAT_RUN_DIR="$WORK_DIR/run"
  {
    lab_settings public_address6="$CN_PUB6"
    lab_network address6="$LAB6_GW/64"
    lab_host lxdev01 address6="$LAB6_G1"
    lab_host lxdev02
    cn_tables
  } >"$CONFIG"
  ip netns add "$CN_SG1"
  no_dad "$CN_SG1"
  fast_rs "$CN_SG1"
  ip -n "$CN_SG1" link set lo up
  ip -n "$HOST_NS" link add vsg1 type veth peer name eth0 netns "$CN_SG1"
  ip -n "$CN_SG1" link set eth0 address "$CN_GUEST_MAC"
  ip -n "$CN_SG1" link set eth0 up
  cat >"$WORK_DIR/udhcpc.script" <<'SCRIPT'
#!/bin/sh
case "$1" in
  deconfig) ip -4 addr flush dev "$interface" ;;
  bound | renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route replace default via "${router%% *}"
    echo "lease $ip"
    ;;
esac
SCRIPT
  chmod +x "$WORK_DIR/udhcpc.script"
  # The LAN knows the way to the guests (so "a guest by its address" is a real test).
  ip -n "$LAB_PREFIX-c1" route replace 10.2.2.0/24 via "$CN_PUB"
  ip -n "$LAB_PREFIX-c1" route replace 10.1.1.0/24 via "$CN_PUB"
  start_server g1 lxdev01 --tcp 8080
  start_server c1 lan --tcp 7000
  start_server host hostsvc --tcp 9999
  # The host's IPv6 default route (a gateway on the LAN that never answers): firewalld's
  # IPv6_rpfilter passes clients beyond the LAN only with one, as on a real host.
  if ! lab6_setup || ! in_ns c1 ip -6 route replace fd00::/8 via "$CN_PUB6" ||
    ! in_ns host ip -6 route add default via 2001:db8:100::fe dev uplink; then
    echo "Bail out! the dual-stack lab could not be set up"
    echo "0 passed, 1 failed"
    exit 1
  fi
  start_server6 g1 lxdev01 --tcp 8080
  start_server6 c1 lan --tcp 7000
  start_server6 host hostsvc --tcp 9999
}

# cn_tables: the config's tables beside the lab's network nat_bridge.
cn_tables() {
  cat <<CONFIG

[[network]]
name = "sanet"
mode = "nat"
provider = "standalone"
bridge = "vsbr0"
address = "10.2.2.1/24"
dhcp_range = "10.2.2.100-10.2.2.150"
address6 = "$CN_SA_GW6/64"
dhcp_range6 = "fd00:2:2::100-fd00:2:2::1ff"
domain = "sa.test"

[[network.host]]
name = "sadev01"
address = "$CN_GUEST_ADDR"
mac = "$CN_GUEST_MAC"

[[forward]]
host = "lxdev01"
port = 2222
to_port = 8080

[[forward]]
host = "sadev01"
port = 2224
to_port = 8080
CONFIG
}

cn_plug() {
  ip -n "$HOST_NS" link set vsg1 master vsbr0 && ip -n "$HOST_NS" link set vsg1 up || return 1
  for _ in $(seq 1 100); do
    if bridge -n "$HOST_NS" link show dev vsg1 | grep_q "state forwarding"; then break; fi
    sleep 0.1
  done
  [ -n "$(ip netns pids "$CN_SG1" 2>/dev/null)" ] || {
    start_server "$CN_SG1" sadev01 --tcp 8080
    start_server6 "$CN_SG1" sadev01 --tcp 8080
  }
}

# cn_dhcp [TRIES]: the address sg1 gets (nothing if none).
cn_dhcp() {
  ip netns exec "$CN_SG1" busybox udhcpc -i eth0 -f -q -n -t "${1:-4}" -T 1 \
    -s "$WORK_DIR/udhcpc.script" 2>/dev/null | sed -n 's/^lease //p' | tail -n 1
}

cn_must_pass() {
  local what=$1 got
  got=$(cn_dhcp)
  expect_value "$what: DHCP: sg1 gets its static lease on vsbr0" "$got" "$CN_GUEST_ADDR"
  got=$(resolve4 "$CN_SG1" sadev01.sa.test 10.2.2.1)
  expect_value "$what: DNS: sg1 resolves sadev01.sa.test at 10.2.2.1" "$got" "$CN_GUEST_ADDR"
  expect_reply c1 tcp "$CN_PUB" 2222 "lxdev01 8080 198.51.100.10" "$what: forward c1 -> $CN_PUB:2222 reaches lxdev01:8080 (nbr0)"
  expect_reply c1 tcp "$CN_PUB" 2224 "sadev01 8080 198.51.100.10" "$what: forward c1 -> $CN_PUB:2224 reaches sadev01:8080 (vsbr0)"
  expect_reply "$CN_SG1" tcp 198.51.100.10 7000 "lan 7000 $CN_PUB" "$what: egress sg1 -> c1:7000 (masqueraded)"
  expect_reply g1 tcp 198.51.100.10 7000 "lan 7000 $CN_PUB" "$what: egress g1 -> c1:7000 (masqueraded)"
  got=$(dhcp6 "$CN_SG1" 8)
  expect_value "$what: DHCPv6: sg1 gets its static address6 on vsbr0" "$got" "$CN_GUEST_ADDR6"
  got=$(await_ra_default_route "$CN_SG1" 10) # sg1 solicits every second
  if [[ "$got" == "fe80:"*" dev eth0" ]]; then
    pass "$what: RA: sg1 has its IPv6 default route from virtnat's dnsmasq ($got)"
  else
    fail "$what: RA: sg1 has its IPv6 default route from virtnat's dnsmasq" "got: $got"
  fi
  got=$(resolve6 "$CN_SG1" sadev01.sa.test "$CN_SA_GW6")
  expect_value "$what: DNS: sg1 resolves sadev01.sa.test (AAAA) at $CN_SA_GW6" "$got" "$CN_GUEST_ADDR6"
  expect_reply c1 tcp "$CN_PUB6" 2222 "lxdev01 8080 $CN_C1_6" "$what: forward c1 -> [$CN_PUB6]:2222 reaches lxdev01:8080 over IPv6 (nbr0)"
  expect_reply c1 tcp "$CN_PUB6" 2224 "sadev01 8080 $CN_C1_6" "$what: forward c1 -> [$CN_PUB6]:2224 reaches sadev01:8080 over IPv6 (vsbr0)"
  expect_reply "$CN_SG1" tcp "$CN_C1_6" 7000 "lan 7000 $CN_PUB6" "$what: egress sg1 -> [c1]:7000 (NAT66)"
  expect_reply g1 tcp "$CN_C1_6" 7000 "lan 7000 $CN_PUB6" "$what: egress g1 -> [c1]:7000 (NAT66)"
}

cn_must_not() {
  local what=$1 got
  got=$(resolve4 c1 sadev01.sa.test 10.2.2.1)
  expect_value "$what: the LAN gets no answer from the guests' dnsmasq (c1 -> 10.2.2.1:53)" "$got" ""
  expect_no_reply c1 tcp 10.2.2.1 53 any "$what: c1 -> tcp 10.2.2.1:53 gets nothing"
  expect_no_reply c1 tcp "$CN_PUB" 2299 any "$what: an unforwarded port (c1 -> $CN_PUB:2299) gets nothing"
  expect_no_reply c1 tcp "$CN_GUEST_ADDR" 8080 any "$what: a guest by its address (c1 -> $CN_GUEST_ADDR:8080, routed) gets nothing"
  got=$(resolve6 c1 sadev01.sa.test "$CN_SA_GW6")
  expect_value "$what: the LAN gets no AAAA from the guests' dnsmasq (c1 -> [$CN_SA_GW6]:53)" "$got" ""
  expect_no_reply c1 tcp "$CN_PUB6" 2299 any "$what: an unforwarded port over IPv6 (c1 -> [$CN_PUB6]:2299) gets nothing"
  expect_no_reply c1 tcp "$CN_GUEST_ADDR6" 8080 any "$what: a guest by its IPv6 address (c1 -> [$CN_GUEST_ADDR6]:8080, routed) gets nothing"
  expect_no_reply c1 tcp "$LAB6_G1" 8080 any "$what: lxdev01 by its IPv6 address (c1 -> [$LAB6_G1]:8080, routed) gets nothing"
}

# cn_doctor_ok WHAT / cn_doctor_blocks WHAT TEXT: doctor exits 0 / exits 1 and names TEXT.
cn_doctor_ok() {
  local out rc
  out=$(vn doctor 2>&1)
  rc=$?
  if [ $rc -eq 0 ] && [[ "$out" == *"nothing blocks"* ]]; then pass "$1: doctor exits 0 ($out)"; else fail "$1: doctor exits 0" "exit $rc" "$out"; fi
}
cn_doctor_blocks() {
  local out rc
  out=$(vn doctor 2>&1)
  rc=$?
  if [ $rc -eq 1 ] && [[ "$out" == *"$2"* ]]; then
    pass "$1: doctor exits 1 and names $2 ($(grep -m1 -F -- "$2" <<<"$out"))"
  else
    fail "$1: doctor exits 1 and names $2" "exit $rc" "$out"
  fi
}
# cn_forward_state PORT: the state `status --json` gives the forward with public port PORT.
cn_forward_state() {
  vn status --json 2>/dev/null | jq -r --arg p "$1" '.forwards[] | select(.port == $p) | .state'
}
