#!/bin/bash
# The network modes in the lab: for nat, routed, isolated and open (provider "external",
# the lab's bridge nbr0) the whole matrix of issue 4 is asserted with real TCP and UDP
# connections (lib.sh's mode_matrix), both directions, including what must fail:
#   host <-> guests, guest <-> guest, guests -> outside (masqueraded or not),
#   outside -> guests (straight, with a route on the LAN, and through a forward).
# bridged is checked by `virtnat check` / `virtnat plan` only (a real uplink is enslaved in the
# standalone and libvirt mode tests). Then nat -> routed -> nat on the same table.
#   bash tests/lab/test_modes.sh BUILD_DIR
# The matrix runs once before anything is applied (the kernel's behaviour, the control
# that every failing probe can succeed) and, where br_netfilter is loaded, once with
# bridged frames kept out of the inet hooks and once with them passing through
# (LAB_BR_NETFILTER=0|1 pins one of the two).
# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "${1:-}"

lab_start

# ------------------------------------------------------------------ helpers

# mode_config FILE MODE [forwards]: the lab network in MODE (same hosts as lib.sh's base
# config); "forwards" adds one forward by host name and one by address.
mode_config() {
  local file=$1 mode=$2 with=${3:-}
  mkdir -p "$(dirname "$file")"
  {
    lab_settings
    lab_network mode="$mode"
    lab_hosts
    if [ "$with" = forwards ]; then
      lab_forward ssh description="ssh to lxdev01, by name"
      lab_forward - address=10.1.1.29 port='"2223"' to_port='"22"' description="ssh to lxdev02, by address"
    fi
  } >"$file"
}

# apply_mode MODE [forwards]: write the lab config in MODE and apply it.
apply_mode() {
  mode_config "$CONFIG" "$@"
  check "virtnat apply: mode $1${2:+ with forwards}" virtnat apply
  local n
  n=$(nft_host list tables 2>/dev/null | grep -cx "table inet $TABLE")
  if [ "$n" = 1 ]; then
    pass "mode $1: exactly one table inet $TABLE after apply"
  else
    fail "mode $1: exactly one table inet $TABLE after apply" "$(nft_host list tables 2>&1)"
  fi
}

brnf_detect

# matrix MODE: the whole matrix for MODE (none = before any apply) on nbr0 (10.1.1.0/24), TCP
# and UDP, for each br_netfilter setting (lib.sh's mode_matrix says what is expected).
matrix() {
  mode_matrix "$1" --gateway 10.1.1.1 --guest g1,lxdev01,10.1.1.28 --guest g2,lxdev02,10.1.1.29 \
    --forward 2222 --forward 2223 --udp
}

# ------------------------------------------------------------------ the lab

start_server g1 lxdev01 --tcp 22 --udp 53
start_server g2 lxdev02 --tcp 22 --udp 53
start_server c1 c1 --tcp 7000 --udp 7000
start_server host hostsrv --tcp 7100 --udp 7100
# c1 knows the guests' subnet through the host (the "route on the LAN" of mode routed).
check "c1 gets a route to 10.1.1.0/24 via 198.51.100.1" in_ns c1 ip route add 10.1.1.0/24 via 198.51.100.1
fwd=$(in_ns host sysctl -n net.ipv4.ip_forward 2>&1)
if [ "$fwd" = 1 ]; then
  pass "ip_forward is 1 in the lab's host namespace"
else
  fail "ip_forward is 1 in the lab's host namespace" "got: $fwd"
fi
note "br_netfilter settings tested: ${BRNF_SETTINGS[*]}"

# ------------------------------------------------------------------ control
note "control: the lab before virtnat applies anything (the kernel's behaviour)"
matrix none

# ------------------------------------------------------------------ nat
note "mode nat"
apply_mode nat forwards
matrix nat

# ------------------------------------------------------------------ routed
note "mode routed (applied over nat on the same table)"
apply_mode routed forwards
matrix routed

# ------------------------------------------------------------------ isolated
note "mode isolated"
apply_mode isolated
matrix isolated

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

# ------------------------------------------------------------------ open
note "mode open"
apply_mode open
nft_host list table inet "$TABLE" >"$WORK_DIR/table-open" 2>&1
nft_host list chain inet "$TABLE" forward >"$WORK_DIR/open-forward" 2>&1
nft_host list chain inet "$TABLE" postrouting >"$WORK_DIR/open-postrouting" 2>&1
has_match "open: the forward chain can be listed" "$WORK_DIR/open-forward" "hook forward"
has_match "open: the postrouting chain can be listed" "$WORK_DIR/open-postrouting" "hook postrouting"
no_match "open: no rule of table inet $TABLE names the bridge nbr0" "$WORK_DIR/table-open" "nbr0"
no_match "open: the forward chain has no rule for the network (nbr0, 10.1.1.0/24, nat_bridge)" \
  "$WORK_DIR/open-forward" "nbr0|10\.1\.1\.|nat_bridge"
grep masquerade "$WORK_DIR/open-postrouting" | grep -v "ct status dnat" >"$WORK_DIR/open-masquerade"
no_match "open: postrouting masquerades no guest traffic (only forwarded connections, ct status dnat)" \
  "$WORK_DIR/open-masquerade" "."
no_match "open: postrouting has no rule for the network (nbr0, 10.1.1.0/24, nat_bridge)" \
  "$WORK_DIR/open-postrouting" "nbr0|10\.1\.1\.|nat_bridge"
matrix open

# ------------------------------------------------------------------ bridged
note "mode bridged (check and plan only)"
bridged="$WORK_DIR/bridged/virtnat.toml"
mode_config "$bridged" nat
cat >>"$bridged" <<'EOF'

[[network]]
name = "lan"
mode = "bridged"
provider = "external"
bridge = "br-lan"
uplink = "uplink"
EOF
check "bridged: check accepts mode = \"bridged\" with an uplink and no address" virtnat_with "$bridged" check
if virtnat_with "$bridged" plan >"$WORK_DIR/bridged-plan" 2>&1; then
  pass "bridged: plan works"
  no_match "bridged: the plan holds no rule for the bridged network (br-lan, uplink, lan)" \
    "$WORK_DIR/bridged-plan" "br-lan|uplink|\"lan:"
  has_match "bridged: the plan still filters the nat network beside it" "$WORK_DIR/bridged-plan" "oifname \"nbr0\""
else
  fail "bridged: plan works" "$(cat "$WORK_DIR/bridged-plan")"
fi

bridged_fwd="$WORK_DIR/bridged-forward/virtnat.toml"
mkdir -p "$(dirname "$bridged_fwd")"
cat >"$bridged_fwd" <<'EOF'
[settings]
table = "virtnat"
public_address = "198.51.100.1"
vm_lifecycle = "ignore"

[[network]]
name = "lan"
mode = "bridged"
provider = "external"
bridge = "br-lan"
uplink = "uplink"
address = "192.0.2.1/24"

[[network.host]]
name = "lanvm"
address = "192.0.2.50"

[[forward]]
host = "lanvm"
port = "2222"
to_port = "22"

[[forward]]
address = "192.0.2.51"
port = "2223"
to_port = "22"
EOF
expect_refused "bridged: check refuses a forward to a host of a bridged network, naming forward[0].host" \
  "$bridged_fwd" "virtnat\.toml:[0-9]+: forward\[0\]\.host: .*bridged"
expect_refused "bridged: check refuses a forward to an address of a bridged network, naming forward[1].address" \
  "$bridged_fwd" "virtnat\.toml:[0-9]+: forward\[1\]\.address: .*bridged"

no_uplink="$WORK_DIR/bridged-no-uplink/virtnat.toml"
mkdir -p "$(dirname "$no_uplink")"
cat >"$no_uplink" <<'EOF'
[settings]
table = "virtnat"
vm_lifecycle = "ignore"

[[network]]
name = "lan"
mode = "bridged"
provider = "external"
bridge = "br-lan"
EOF
expect_refused "bridged: check refuses a bridged network without uplink, naming network[0]" \
  "$no_uplink" "virtnat\.toml:[0-9]+: network\[0\](\.uplink)?: .*uplink"

stray_uplink="$WORK_DIR/stray-uplink/virtnat.toml"
mode_config "$stray_uplink" nat
sed -i 's/^bridge = "nbr0"$/bridge = "nbr0"\nuplink = "uplink"/' "$stray_uplink"
expect_refused "check refuses an uplink on a network that is not bridged, naming network[0].uplink" \
  "$stray_uplink" "virtnat\.toml:[0-9]+: network\[0\]\.uplink: "

# ------------------------------------------------------------------ switching modes
note "switching modes on the same table: nat -> routed -> nat"
set_brnf "${BRNF_SETTINGS[-1]}"
for step in nat routed nat; do
  apply_mode "$step" forwards
  save_table "$WORK_DIR/table-switch-$step"
  case $step in
    nat)
      expect_exact g1 198.51.100.10 7000 "c1 7000 198.51.100.1" "switch to nat: lxdev01 -> c1 is masqueraded (c1 sees 198.51.100.1)"
      expect_no_reply c1 tcp 10.1.1.28 22 any "switch to nat: c1 (routed) -> 10.1.1.28:22 gets no new connection in"
      no_match "switch to nat: no rule of mode routed is left" "$WORK_DIR/table-switch-$step" "routed"
      ;;
    routed)
      expect_exact g1 198.51.100.10 7000 "c1 7000 10.1.1.28" "switch to routed: lxdev01 -> c1 is not masqueraded (c1 sees 10.1.1.28)"
      expect_exact c1 10.1.1.28 22 "lxdev01 22 198.51.100.10" "switch to routed: c1 -> 10.1.1.28:22 gets in"
      no_match "switch to routed: no masquerade of guests to the outside is left" "$WORK_DIR/table-switch-$step" "masquerade.*guests to the outside"
      ;;
  esac
  expect_exact c1 198.51.100.1 2222 "lxdev01 22 198.51.100.10" "after the switch to $step the forward 2222 still works"
  expect_exact g1 10.1.1.29 22 "lxdev02 22 10.1.1.28" "after the switch to $step guest to guest still works"
done

check "virtnat down" virtnat down
finish
