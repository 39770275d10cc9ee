#!/bin/bash
# provider "ovn" dual-stack (issue 14) with real packets: the OVN fleet lab (lab/ovn.sh, its
# LAN has 2001:db8:100::10, ::11 and the gateway ::fe) and a network with address6,
# uplink_address6 and uplink_gateway6. Guests are OVS internal ports, as in test_ovn.sh; they
# run Debian's `dhclient -6` (DUID-LL) and busybox.
#
#   bash tests/lab/test_ovn6.sh BUILD_DIR      (as root; ctest: lab_ovn6)
#
# Checks, each with a control that could fail: before apply no DHCPv6 answer; after it each
# guest gets exactly its address6 from OVN's DHCPv6, a default route from OVN's router
# advertisements and AAAA answers from OVN's DNS; NAT66 egress as uplink_address6; the LAN
# reaches the guests through forwards on uplink_address6 (TCP, UDP), an allowlist per family,
# a forward with IPv4 sources only stays closed on IPv6; routed straight to a guest's IPv6
# address the LAN gets nothing (mode nat); IPv6 hairpin; a second apply changes nothing; `down`
# leaves none of virtnat's rows, and IPv6 forwards get nothing.
# shellcheck disable=SC2317 # ovn6_cleanup is the EXIT trap
# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh" "$1"
export OVN_LAB_DIR="${OVN_LAB_DIR:-/tmp/virtnat-ovn6-test.$$}"
export OVN_LAB_PREFIX="${OVN_LAB_PREFIX:-vno6$$}"
# shellcheck source=lab/ovn.sh
source "$REPO_DIR/lab/ovn.sh"
# shellcheck source=tests/lab/ovn_test_lib.sh
source "$REPO_DIR/tests/lab/ovn_test_lib.sh"

VIP=198.51.100.50
VIP6=2001:db8:100::50
LAN6=2001:db8:100::10   # the LAN client
OTHER6=2001:db8:100::11 # another LAN client, outside allowlists
NBDB="unix:$OVN_LAB_DIR/central/nb.sock"
declare -A ADDR6=([web1]=fd00:99::b [web2]=fd00:99::c)
declare -A HV=([web1]=hv1 [web2]=hv3)
declare -A MAC=([web1]=02:76:6e:0a:00:0b [web2]=02:76:6e:0a:00:0c)

ovn6_cleanup() {
  local pid
  for pid in "${SERVERS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${SERVERS[@]}"; do wait "$pid" 2>/dev/null; done
  if [ -n "${OVN_LAB_KEEP:-}" ]; then
    echo "# lab kept: OVN_LAB_DIR=$OVN_LAB_DIR OVN_LAB_PREFIX=$OVN_LAB_PREFIX bash lab/ovn.sh down; work $WORK_DIR"
    return
  fi
  ovn_lab_down >/dev/null 2>&1
  [ -z "$WORK_DIR" ] || rm -rf "$WORK_DIR"
}

guest_ns() { ovn_lab_ns "g-fleet6-$1"; }
guest_if() { _ovn_lab_ifname "fleet6-$1"; }
# guest6 HOST [SECONDS]: one DHCPv6 exchange on the guest's port (lib.sh's dhcp6); prints the
# address it got.
guest6() { dhcp6 "$(guest_ns "$1")" "${2:-10}" "$(guest_if "$1")"; }
# resolve6_in HOST NAME: the AAAA answers the guest gets from OVN's DNS (asked at the router).
resolve6_in() { resolve6 "$(guest_ns "$1")" "$2" fd00:99::1; }
# resolved6_in HOST NAME: the same, asked again for up to 20 s (the guest's first query can go
# while it still resolves the router's link-layer address, or before the chassis's
# ovn-controller has loaded the switch's DNS records under load).
resolved6_in() {
  local got deadline=$((SECONDS + 20))
  while :; do
    got=$(resolve6_in "$@")
    [ -n "$got" ] || [ "$SECONDS" -ge "$deadline" ] && break
    sleep 1
  done
  echo "$got"
}
# dns6_diagnosis HOST NAME: what the guest saw, for a failed lookup.
dns6_diagnosis() {
  local ns
  ns=$(guest_ns "$1")
  {
    ip netns exec "$ns" timeout 5 busybox nslookup -type=aaaa "$2" fd00:99::1 2>&1
    ip -n "$ns" -6 addr show scope global
    ip -n "$ns" -6 route
    ip -n "$ns" -6 neigh
  } | sed 's/^/#   /'
}

if [ "$(id -u)" -ne 0 ]; then
  echo "# lab tests need root (network namespaces); skipped"
  exit 77
fi
for bin in ovn-nbctl ovn-northd ovn-controller ovs-vswitchd dhclient busybox "$VNPEER" "$VIRTNAT"; do
  if ! command -v "$bin" >/dev/null; then
    echo "Bail out! $bin is missing (scripts/install-deps; build first)"
    echo "0 passed, 1 failed"
    exit 1
  fi
done
WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/virtnat-ovn6.XXXXXX")
CONFIG="$WORK_DIR/etc/virtnat.toml"
mkdir -p "$WORK_DIR/etc" "$WORK_DIR/state"
trap ovn6_cleanup EXIT
trap 'exit 130' INT TERM
T0=$EPOCHREALTIME

if ! ovn_lab_up >"$WORK_DIR/lab-up.log" 2>&1; then
  echo "Bail out! lab/ovn.sh up failed:"
  sed 's/^/# /' "$WORK_DIR/lab-up.log"
  echo "0 passed, 1 failed"
  exit 1
fi
note "OVN lab up in $(cat "$OVN_LAB_DIR/up.seconds") s"

cat >"$CONFIG" <<EOF
[settings]
ovn_northbound = "$NBDB"
ovn_southbound = "unix:$OVN_LAB_DIR/central/sb.sock"

[[network]]
name = "fleet6"
provider = "ovn"
mode = "nat"
address = "10.99.0.1/24"
address6 = "fd00:99::1/64"
domain = "fleet.test"
uplink = "physnet1"
uplink_address = "$VIP/24"
uplink_gateway = "198.51.100.254"
uplink_address6 = "$VIP6/64"
uplink_gateway6 = "2001:db8:100::fe"
gateway_chassis = ["hv1", "hv2"]

[[network.host]]
name = "web1"
address = "10.99.0.11"
mac = "${MAC[web1]}"

[[network.host]]
name = "web2"
address = "10.99.0.12"
address6 = "${ADDR6[web2]}"
mac = "${MAC[web2]}"

[[forward]]
host = "web1"
port = 8080
to_port = 80

[[forward]]
host = "web1"
protocol = "udp"
port = 8053
to_port = 53

[[forward]]
host = "web1"
port = 2222
to_port = 22
source = ["198.51.100.10/32", "$LAN6/128"]

[[forward]]
host = "web2"
port = 8443
to_port = 443
source = ["198.51.100.0/24"]

[[forward]]
host = "web2"
port = 8081
to_port = 80
EOF
chmod 600 "$CONFIG"

for host in web1 web2; do
  OVN_LAB_IFACE_IDS[fleet6-$host]=$(vn vm interface fleet6 "$host" | sed -n "s/.*interfaceid='\([^']*\)'.*/\1/p")
  ovn_lab_guest "${HV[$host]}" "fleet6-$host" "${MAC[$host]}"
done
serve lan lan --tcp 7000 --udp 7000
serve lan lan --bind :: --tcp 7000 --udp 7000
if [ -n "$(guest6 web1 3)" ]; then
  fail "control: web1 gets no DHCPv6 answer before apply"
else
  pass "control: web1 gets no DHCPv6 answer before apply"
fi

# ------------------------------------------------------------------ apply
check "virtnat check accepts the dual-stack fleet config" vn check
out=$(vn apply 2>&1)
rc=$?
if [ $rc -eq 0 ] && [[ "$out" == *"in one transaction"* ]]; then pass "virtnat apply creates the dual-stack network in OVN"; else fail "virtnat apply" "exit $rc" "$out"; fi
for host in web1 web2; do
  serve "g-fleet6-$host" "$host" --tcp 80,443,22 --udp 53
  serve "g-fleet6-$host" "$host" --bind :: --tcp 80,443,22 --udp 53
  ovn_lab_dhcp "fleet6-$host" 10 >/dev/null || fail "$host gets its IPv4 lease"
  got=$(guest6 "$host" 15)
  expect_value "$host gets exactly its address6 from OVN's DHCPv6" "$got" "${ADDR6[$host]}"
  if [ "$got" != "${ADDR6[$host]}" ]; then
    { ip -n "$(guest_ns "$host")" -6 addr; tail -n 12 "$WORK_DIR/dhclient6-$(guest_ns "$host")/log"; } | sed 's/^/#   /'
  fi
done
for host in web1 web2; do
  # Up to 40 s: OVN answers router solicitations and advertises every 10-30 s.
  route=$(await_ra_default_route "$(guest_ns "$host")" 40)
  if [[ "$route" == "fe80::"*" dev $(guest_if "$host")" ]]; then
    pass "$host (${HV[$host]}) has an IPv6 default route from OVN's router advertisements ($route)"
  else
    fail "$host (${HV[$host]}) has an IPv6 default route from OVN's router advertisements" "got: $route"
  fi
done
for pair in "web1 web2" "web2 web1"; do
  read -r asker name <<<"$pair"
  got=$(resolved6_in "$asker" "$name.fleet.test")
  expect_value "$asker resolves $name.fleet.test (AAAA) from OVN's DNS" "$got" "${ADDR6[$name]}"
  [ "$got" = "${ADDR6[$name]}" ] || dns6_diagnosis "$asker" "$name.fleet.test"
done
expect_value "control: an unknown name has no AAAA" "$(resolve6_in web1 nothere.fleet.test)" ""

# ------------------------------------------------------------------ egress and forwards
expect_reply_via connect "g-fleet6-web1" tcp "$LAN6" 7000 "lan 7000 $VIP6" "NAT66: web1 -> [$LAN6]:7000, the LAN sees uplink_address6"
expect_reply_via connect "g-fleet6-web2" udp "$LAN6" 7000 "lan 7000 $VIP6" "NAT66: web2 (hv3) -> udp [$LAN6]:7000"
expect_reply_via connect "lan/$LAN6" tcp "$VIP6" 8080 "web1 80 $LAN6" "lan -> [$VIP6]:8080 reaches web1:80 over IPv6"
expect_reply_via connect "lan/$LAN6" udp "$VIP6" 8053 "web1 53 $LAN6" "lan -> udp [$VIP6]:8053 reaches web1:53"
expect_reply_via connect "lan/$LAN6" tcp "$VIP6" 8081 "web2 80 $LAN6" "lan -> [$VIP6]:8081 reaches web2:80 on hv3"
expect_reply_via connect "lan/198.51.100.10" tcp "$VIP" 8080 "web1 80 198.51.100.10" "the same forward answers on IPv4 too"
expect_reply_via connect "lan/$LAN6" tcp "$VIP6" 2222 "web1 22 $LAN6" "allowlist: $LAN6 (listed) reaches web1:22 over IPv6"
expect_no_reply_via connect "lan/$OTHER6" tcp "$VIP6" 2222 any "allowlist: $OTHER6 (not listed) gets nothing"
expect_reply_via connect "lan/198.51.100.10" tcp "$VIP" 8443 "web2 443 198.51.100.10" "control: the IPv4-only allowlist lets 198.51.100.10 in"
expect_no_reply_via connect "lan/$LAN6" tcp "$VIP6" 8443 any "a forward with IPv4 sources only stays closed on IPv6"
check "the LAN routes fd00:99::/64 to uplink_address6" ip -n "$(ovn_lab_ns lan)" -6 route replace fd00:99::/64 via "$VIP6"
expect_no_reply_via connect "lan/$LAN6" tcp "${ADDR6[web1]}" 80 any "mode nat: routed straight to [${ADDR6[web1]}]:80 the LAN gets nothing"
expect_reply_via connect "g-fleet6-web2" tcp "$VIP6" 8080 "web1 80" "IPv6 hairpin: web2 -> [$VIP6]:8080 reaches web1"

has_text "status names each port with both its addresses" "$(vn status 2>&1)" "(web2 10.99.0.12 ${ADDR6[web2]}): up on hv3"
has_text "a second apply changes nothing (the IPv6 rows read back as written)" "$(vn apply 2>&1)" \
  "no change: OVN northbound already matches the config"

# ------------------------------------------------------------------ down
check "virtnat down" vn down
expect_value "down leaves none of virtnat's rows" "$(virtnat_rows)" 0
expect_no_reply_via connect "lan/$LAN6" tcp "$VIP6" 8080 any "after down lan -> [$VIP6]:8080 gets nothing"

note "total $(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
finish
