#!/bin/bash
# The network modes with provider = "standalone" in the lab: virtnat creates the bridge vsbr1
# (10.3.3.1/24), its dummy NIC and dnsmasq itself, inside the lab's host namespace; guest
# namespaces (static addresses) are plugged into that bridge after `virtnat apply` made it.
# For nat, routed, isolated and open the whole matrix of issue 4 is asserted with real TCP and
# UDP connections (lib.sh's mode_matrix), both directions, including what must fail:
#   host <-> guests, guest <-> guest, guests -> outside (masqueraded or not),
#   outside -> guests (with a route on the LAN, and through a forward).
# Then mode bridged: a second veth pair joins the host namespace (vsup, no address) to the
# LAN's bridge; apply enslaves it to vsbr1 and a guest with a LAN address (198.51.100.50)
# talks to the LAN directly, not NATed. After every mode, `virtnat network stop` must leave
# no bridge, dummy NIC, dnsmasq or rule of the network behind (and release the uplink).
#   bash tests/lab/test_modes_standalone.sh BUILD_DIR
# Where br_netfilter exists, the matrix runs with bridged frames kept out of the inet hooks
# and with them passing through (LAB_BR_NETFILTER=0|1 pins one of the two).
# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "${1:-}"

for tool in busybox /usr/sbin/dnsmasq bridge; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "Bail out! $tool is missing (scripts/install-deps installs it)"
    echo "0 passed, 1 failed"
    exit 1
  fi
done

lab_start

NET=sa_modes
BRIDGE=vsbr1
NIC=vsbr1-nic
UPLINK=vsup       # host side of the second veth pair to the LAN (bridged mode's uplink)
UPLINK_PEER=vhost2 # its LAN side, a port of the LAN namespace's br0
# dnsmasq drops root to user dnsmasq and then reads its hosts files: let it into the folder.
chmod 0755 "$WORK_DIR"
export VIRTNAT_LIB_DIR="$WORK_DIR/lib"
export VIRTNAT_RUN_DIR="$WORK_DIR/run"
NET_DIR="$VIRTNAT_LIB_DIR/$NET"
PID_FILE="$VIRTNAT_RUN_DIR/dnsmasq-$NET.pid"

# Guest namespaces of this test (lab.sh knows nothing of them); their peers v<NAME> stay in
# the lab's host namespace and are enslaved to vsbr1 whenever it exists.
GUESTS=(sg1 sg2)
guest_ns() { echo "$LAB_PREFIX-$1"; }

# shellcheck disable=SC2317 # run by the EXIT trap
modes_cleanup() {
  delete_namespaces "${GUESTS[@]/#/$LAB_PREFIX-}"
  lab_cleanup # ends dnsmasq with every other process of the lab's host namespace
}
trap modes_cleanup EXIT

# ------------------------------------------------------------------ helpers

# mode_config FILE MODE [forwards]: the standalone network in MODE; "forwards" adds one
# forward by host name and one by address. Mode bridged: bridge + uplink, no address.
mode_config() {
  local file=$1 mode=$2 with=${3:-}
  mkdir -p "$(dirname "$file")"
  if [ "$mode" = bridged ]; then
    {
      lab_settings
      lab_network name="$NET" mode=bridged provider=standalone bridge="$BRIDGE" uplink="$UPLINK" \
        address=- dhcp_range=- domain=- mac_prefix=-
    } >"$file"
    return
  fi
  {
    lab_settings
    lab_network name="$NET" mode="$mode" provider=standalone bridge="$BRIDGE" address=10.3.3.1/24 \
      dhcp_range=10.3.3.100-10.3.3.150 mac_prefix=-
    lab_host lxdev01 address=10.3.3.28 mac=02:FF:0A:0A:08:1C
    lab_host lxdev02 address=10.3.3.29 mac=02:FF:0A:0A:08:1D
    if [ "$with" = forwards ]; then
      lab_forward ssh description="ssh to lxdev01, by name"
      lab_forward - address=10.3.3.29 port='"2223"' to_port='"22"' description="ssh to lxdev02, by address"
    fi
  } >"$file"
}


# apply_mode MODE [forwards]: write the config in MODE and apply it; the output goes to
# $WORK_DIR/apply-MODE.
APPLY_OUT=""
apply_mode() {
  mode_config "$CONFIG" "$@"
  APPLY_OUT="$WORK_DIR/apply-$1"
  local rc
  virtnat apply >"$APPLY_OUT" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then
    pass "virtnat apply: mode $1${2:+ with forwards} (provider standalone)"
  else
    fail "virtnat apply: mode $1${2:+ with forwards} (provider standalone)" "command: virtnat --config $CONFIG apply" "exit $rc" "$(cat "$APPLY_OUT")"
  fi
  if link_exists "$BRIDGE" && [ "$(ip -n "$HOST_NS" -o -d link show dev "$BRIDGE" | grep -c ' bridge ')" -ge 1 ]; then
    pass "mode $1: apply made the bridge $BRIDGE"
  else
    fail "mode $1: apply made the bridge $BRIDGE" "$(ip -n "$HOST_NS" -br link 2>&1)"
  fi
}

# add_guest NAME MAC ADDRESS/LEN [GATEWAY]: a namespace whose eth0 has MAC and a static
# address; the peer v<NAME> stays in the lab's host namespace, not plugged anywhere yet.
add_guest() {
  local ns
  ns=$(guest_ns "$1")
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$HOST_NS" link add "v$1" type veth peer name eth0 netns "$ns"
  ip -n "$ns" link set eth0 address "$2"
  ip -n "$ns" link set eth0 up
  readdress_guest "$1" "$3" "${4:-}"
}

# readdress_guest NAME ADDRESS/LEN [GATEWAY]
readdress_guest() {
  local ns
  ns=$(guest_ns "$1")
  ip -n "$ns" addr flush dev eth0
  ip -n "$ns" route flush dev eth0 2>/dev/null
  ip -n "$ns" addr add "$2" dev eth0
  if [ -n "${3:-}" ]; then ip -n "$ns" route add default via "$3"; fi
}

# plug PORT...: enslaves the host-side ports to the bridge, then waits until STP lets every
# one of them forward (virtnat's bridge has STP on with a 2 s forward delay).
plug() {
  local port ok
  for port in "$@"; do
    if [ "$(link_master "$port")" != "$BRIDGE" ]; then
      ip -n "$HOST_NS" link set "$port" master "$BRIDGE" || return 1
    fi
    ip -n "$HOST_NS" link set "$port" up || return 1
  done
  for _ in $(seq 1 150); do
    ok=1
    for port in "$@"; do
      bridge -n "$HOST_NS" link show dev "$port" 2>/dev/null | grep_q "state forwarding" || ok=0
    done
    [ $ok -eq 1 ] && return 0
    sleep 0.1
  done
  return 1
}

check_plug() { # WHEN PORT...
  local when=$1
  shift
  if plug "$@"; then
    pass "$when: $* plugged into $BRIDGE (STP forwarding)"
  else
    fail "$when: $* plugged into $BRIDGE (STP forwarding)" "$(bridge -n "$HOST_NS" link 2>&1)"
  fi
}

# resolve NODE NAME SERVER: the IPv4 addresses busybox nslookup gets, one per line.
resolve() {
  ip netns exec "$(node_ns "$1")" timeout 5 busybox nslookup -type=a "$2" "$3" 2>&1 |
    sed -n '/^Name:/,$p' | sed -n 's/^Address:[[:space:]]*\([0-9.]*\).*/\1/p'
}

# Whether a process runs dnsmasq with this network's configuration file.
our_dnsmasq_runs() {
  local pid
  for pid in $(pgrep -x dnsmasq); do
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep_q -- "--conf-file=$NET_DIR/dnsmasq.conf"; then
      return 0
    fi
  done
  return 1
}

# stop_and_check_gone WHEN [UPLINK]: `virtnat network stop`, then nothing of the network is
# left; with UPLINK, the uplink still exists and is released from the bridge.
stop_and_check_gone() {
  local when=$1 uplink=${2:-} out rc rules
  out=$(virtnat network stop "$NET" 2>&1)
  rc=$?
  if [ $rc -eq 0 ]; then
    pass "$when: virtnat network stop $NET"
  else
    fail "$when: virtnat network stop $NET" "command: virtnat --config $CONFIG network stop $NET" "exit $rc" "$out"
  fi
  note "network stop said: $(tr '\n' ';' <<<"$out")"
  if link_exists "$BRIDGE"; then
    fail "$when: after stop, bridge $BRIDGE is gone" "$(ip -n "$HOST_NS" -br link)"
  else
    pass "$when: after stop, bridge $BRIDGE is gone"
  fi
  if link_exists "$NIC"; then
    fail "$when: after stop, dummy NIC $NIC is gone" "$(ip -n "$HOST_NS" -br link)"
  else
    pass "$when: after stop, dummy NIC $NIC is gone"
  fi
  if our_dnsmasq_runs; then
    fail "$when: after stop, no dnsmasq of $NET runs" "$(pgrep -a dnsmasq)"
  else
    pass "$when: after stop, no dnsmasq of $NET runs"
  fi
  if [ -e "$PID_FILE" ]; then
    fail "$when: after stop, the pid file $PID_FILE is removed"
  else
    pass "$when: after stop, the pid file is removed"
  fi
  rules=$(nft_host list ruleset 2>&1 | grep -E "$BRIDGE|10\.3\.3\.|$UPLINK|\"$NET:")
  if [ -z "$rules" ]; then
    pass "$when: after stop, no rule mentions $BRIDGE, $UPLINK, 10.3.3.0/24 or $NET"
  else
    fail "$when: after stop, no rule mentions $BRIDGE, $UPLINK, 10.3.3.0/24 or $NET" "$rules"
  fi
  if [ -n "$uplink" ]; then
    if link_exists "$uplink" && [ -z "$(link_master "$uplink")" ]; then
      pass "$when: after stop, the uplink $uplink still exists and has no master"
    else
      fail "$when: after stop, the uplink $uplink still exists and has no master" "$(ip -n "$HOST_NS" -o link show dev "$uplink" 2>&1)"
    fi
  fi
}

brnf_detect

G1=$(guest_ns sg1)
G2=$(guest_ns sg2)

# matrix MODE: the whole matrix for MODE (nat, routed, isolated, open) on vsbr1
# (10.3.3.0/24), TCP and UDP, for each br_netfilter setting (lib.sh's mode_matrix says what is
# expected).
matrix() {
  mode_matrix "$1" --tag "$1, standalone" --gateway 10.3.3.1 --guest "$G1,lxdev01,10.3.3.28" \
    --guest "$G2,lxdev02,10.3.3.29" --forward 2222 --forward 2223 --udp
}

# dns_check MODE: a guest resolves a host's name through the network's dnsmasq.
dns_check() {
  expect_value "[$1, standalone] lxdev02 resolves lxdev01.devops.test through dnsmasq on 10.3.3.1" \
    "$(resolve "$G2" lxdev01.devops.test 10.3.3.1)" 10.3.3.28
}

# ------------------------------------------------------------------ the lab

add_guest sg1 02:ff:0a:0a:08:1c 10.3.3.28/24 10.3.3.1 # lxdev01's MAC
add_guest sg2 02:ff:0a:0a:08:1d 10.3.3.29/24 10.3.3.1 # lxdev02's MAC
start_server "$G1" lxdev01 --tcp 22 --udp 53
start_server "$G2" lxdev02 --tcp 22 --udp 53
start_server c1 c1 --tcp 7000 --udp 7000
start_server host hostsrv --tcp 7100 --udp 7100
# c1 knows the guests' subnet through the host (the "route on the LAN" of mode routed).
check "c1 gets a route to 10.3.3.0/24 via 198.51.100.1" in_ns c1 ip route add 10.3.3.0/24 via 198.51.100.1
note "br_netfilter settings tested: ${BRNF_SETTINGS[*]}"

note "controls"
if link_exists "$BRIDGE"; then fail "control: no $BRIDGE before the first apply"; else pass "control: no $BRIDGE before the first apply"; fi
expect_no_reply c1 tcp 10.3.3.28 22 any "control: before apply, nothing answers on 10.3.3.28:22"

# ------------------------------------------------------------------ nat
note "mode nat"
apply_mode nat forwards
has_match "nat: apply reports the bridge created" "$APPLY_OUT" "bridge $BRIDGE created"
has_match "nat: apply reports dnsmasq started" "$APPLY_OUT" "dnsmasq started"
MAC_NAT=$(ip -n "$HOST_NS" -br link show dev "$BRIDGE" 2>/dev/null | awk '{print $3}')
check_plug "nat" vsg1 vsg2
matrix nat
dns_check nat

# ------------------------------------------------------------------ routed, applied over nat
note "mode routed (applied over the running nat network, no stop in between)"
apply_mode routed forwards
expect_value "routed over nat: the bridge keeps its MAC" \
  "$(ip -n "$HOST_NS" -br link show dev "$BRIDGE" 2>/dev/null | awk '{print $3}')" "$MAC_NAT"
expect_value "routed over nat: the guests stay plugged (vsg1's master)" "$(link_master vsg1)" "$BRIDGE"
save_table "$WORK_DIR/table-routed"
no_match "routed: no masquerade of guests to the outside is left" "$WORK_DIR/table-routed" "masquerade.*guests to the outside"
matrix routed
dns_check routed
stop_and_check_gone "routed"

# ------------------------------------------------------------------ isolated
note "mode isolated"
apply_mode isolated
check_plug "isolated" vsg1 vsg2
matrix isolated
dns_check isolated

refused="$WORK_DIR/isolated-forwards/virtnat.toml"
mode_config "$refused" isolated forwards
expect_refused "isolated: check refuses a forward to a host of an isolated network, naming forward[0].host" \
  "$refused" "virtnat\.toml:[0-9]+: forward\[0\]\.host: .*isolated"
expect_refused "isolated: check refuses a forward to an address of an isolated network, naming forward[1].address" \
  "$refused" "virtnat\.toml:[0-9]+: forward\[1\]\.address: .*isolated"
save_table "$WORK_DIR/table-isolated"
check_exit "isolated: apply of the config with forwards exits 2" 2 virtnat_with "$refused" apply
save_table "$WORK_DIR/table-isolated-after"
check_same "isolated: the refused apply left the table as it was" "$WORK_DIR/table-isolated" "$WORK_DIR/table-isolated-after"
stop_and_check_gone "isolated"

# ------------------------------------------------------------------ open
note "mode open"
apply_mode open
check_plug "open" vsg1 vsg2
nft_host list table inet "$TABLE" >"$WORK_DIR/table-open" 2>&1
has_match "open: the table inet $TABLE can be listed" "$WORK_DIR/table-open" "chain forward"
no_match "open: no rule of table inet $TABLE names the bridge $BRIDGE" "$WORK_DIR/table-open" "$BRIDGE"
no_match "open: no rule of table inet $TABLE names the network (10.3.3.0/24, $NET)" \
  "$WORK_DIR/table-open" "10\.3\.3\.|\"$NET:"
grep masquerade "$WORK_DIR/table-open" | grep -v "ct status dnat" >"$WORK_DIR/open-masquerade"
no_match "open: postrouting masquerades no guest traffic" "$WORK_DIR/open-masquerade" "."
matrix open
stop_and_check_gone "open"

# ------------------------------------------------------------------ bridged
note "mode bridged: uplink $UPLINK (a second veth pair to the LAN's br0) enslaved by apply"
LAN_NS="$LAB_PREFIX-lan"
if ip -n "$HOST_NS" link add "$UPLINK" type veth peer name "$UPLINK_PEER" netns "$LAN_NS" &&
  ip -n "$LAN_NS" link set "$UPLINK_PEER" master br0 &&
  ip -n "$LAN_NS" link set "$UPLINK_PEER" up &&
  ip -n "$HOST_NS" link set "$UPLINK" up; then
  pass "bridged: a second veth pair $UPLINK (host, no address) <-> $UPLINK_PEER (LAN's br0)"
else
  fail "bridged: a second veth pair $UPLINK (host, no address) <-> $UPLINK_PEER (LAN's br0)"
fi
expect_value "control: $UPLINK has no master before apply" "$(link_master "$UPLINK")" ""
readdress_guest sg1 198.51.100.50/24
readdress_guest sg2 198.51.100.51/24
expect_no_reply c1 tcp 198.51.100.50 22 any "control: before apply, c1 does not reach 198.51.100.50 (the guest is not on the LAN yet)"

apply_mode bridged
has_match "bridged: apply reports the uplink enslaved" "$APPLY_OUT" "uplink $UPLINK enslaved to $BRIDGE"
expect_value "bridged: apply enslaved $UPLINK to $BRIDGE" "$(link_master "$UPLINK")" "$BRIDGE"
if ip -n "$HOST_NS" -br addr show dev "$BRIDGE" 2>/dev/null | grep_q -E '([0-9]+\.){3}[0-9]+/'; then
  fail "bridged: no IPv4 address on $BRIDGE" "$(ip -n "$HOST_NS" -br addr show dev "$BRIDGE" 2>&1)"
else
  pass "bridged: no IPv4 address on $BRIDGE"
fi
if our_dnsmasq_runs; then fail "bridged: no dnsmasq runs for the network" "$(pgrep -a dnsmasq)"; else pass "bridged: no dnsmasq runs for the network"; fi
nft_host list table inet "$TABLE" >"$WORK_DIR/table-bridged" 2>&1
no_match "bridged: no rule of table inet $TABLE names $BRIDGE, $UPLINK or $NET" "$WORK_DIR/table-bridged" "$BRIDGE|$UPLINK|\"$NET:"
grep masquerade "$WORK_DIR/table-bridged" | grep -v "ct status dnat" >"$WORK_DIR/bridged-masquerade"
no_match "bridged: postrouting masquerades nothing" "$WORK_DIR/bridged-masquerade" "."
check_plug "bridged" "$UPLINK" vsg1 vsg2
for brnf in "${BRNF_SETTINGS[@]}"; do
  set_brnf "$brnf"
  tag="[bridged, standalone, br_netfilter $brnf]"
  note "$tag"
  expect_exact "$G1" 198.51.100.10 7000 "c1 7000 198.51.100.50" "$tag guest 198.51.100.50 -> c1 directly, not NATed (c1 sees 198.51.100.50)"
  expect_exact c1 198.51.100.50 22 "lxdev01 22 198.51.100.10" "$tag c1 -> guest 198.51.100.50:22 directly"
  expect_exact c2 198.51.100.51 22 "lxdev02 22 198.51.100.20" "$tag c2 -> guest 198.51.100.51:22 directly"
  expect_exact "$G1" 198.51.100.51 22 "lxdev02 22 198.51.100.50" "$tag guest to guest: 198.51.100.50 -> 198.51.100.51:22"
  expect_exact host 198.51.100.50 22 "lxdev01 22 198.51.100.1" "$tag host (its LAN address) -> guest 198.51.100.50:22 over the LAN"
done
stop_and_check_gone "bridged" "$UPLINK"
expect_no_reply c1 tcp 198.51.100.50 22 any "bridged, after stop: c1 no longer reaches the guest 198.51.100.50"

# ------------------------------------------------------------------ the end
check "virtnat down" virtnat down
finish
