#!/bin/bash
# virtnat's libvirt networks beside a real firewalld (issue 12): a real libvirtd and a real
# firewalld (Debian's 1.3) in the lab's host namespace, real QEMU domains and packets.
#   bash tests/lab/test_firewalld_libvirt.sh BUILD_DIR
#
# libvirt defines virtnat's networks with <forward mode='open'/>, and in mode open libvirt
# puts the bridge in no firewalld zone: it would fall into the default zone (public), which
# rejects the guests' DHCP and DNS and their forwarded traffic. virtnat puts it in its zone.
#   1. apply: libvirt's network vnat0 in zone virtnat (runtime and permanent); a guest gets
#      its static lease from libvirt's dnsmasq and resolves names; the hook opens the forward
#      when the QEMU domain starts, and the LAN reaches the guest through it; the guest goes
#      out; the LAN gets nothing of the guests' dnsmasq, unforwarded ports or guests by address
#   2. vnat0 taken out of the zone at runtime (control): in the default zone no lease, and
#      doctor names firewalld; firewall-cmd --reload brings it back from the permanent
#      configuration
#   3. a libvirtd restart (libvirt re-creates nothing of firewalld's here) keeps it; down
#      removes the zone and leaves firewalld's zones as they were
# firewalld's D-Bus socket (CX_DBUS_DIR) and its private /etc/firewalld are shared with
# libvirt's mount namespace, where virtnat runs beside its hook.
# shellcheck disable=SC2317 # helpers are called indirectly (lv_wait_for, check)
# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "${1:-}"
# shellcheck source=tests/lab/libvirt_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/libvirt_lib.sh"
# shellcheck source=tests/lab/coexist_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/coexist_lib.sh"

T0=$EPOCHREALTIME
lv_require_root_and_tools
command -v jq >/dev/null 2>&1 || lv_bail "jq is missing (run scripts/install-deps)"
lab_start
unset VIRTNAT_STATE_DIR VIRTNAT_CONFIG # the CLI shares /etc/virtnat and /run/virtnat with the hook
lv_start "$HOST_NS"
export CX_DBUS_DIR="$LV_WORK/dbus"
if ! cx_firewalld_start "$HOST_NS"; then
  echo "Bail out! firewalld did not start"
  echo "0 passed, 1 failed"
  exit 1
fi
# As on a host, virtnat sees firewalld's bus and its /etc/firewalld (it reads the permanent zone).
lv_bind "$CX_DBUS_DIR" /run/dbus || lv_bail "cannot bind firewalld's bus into libvirt's lab"
lv_bind "$CX_WORK/firewalld/etc" /etc/firewalld || lv_bail "cannot bind firewalld's /etc/firewalld into libvirt's lab"
lv_bind "$CONF_DIR" /etc/virtnat || lv_bail "cannot bind the config folder into the lab"
ip -n "$HOST_NS" link del nbr0 || lv_bail "cannot remove the lab's nbr0"

PUB=198.51.100.1
NET=nat_bridge
BR=vnat0
GUEST=lx1
GUEST_NS="$LAB_PREFIX-$GUEST"
GUEST_MAC=02:ff:0a:0a:06:1c
GUEST_ADDR=10.1.1.28

vn() { lv_exec "$VIRTNAT" "$@"; }
FW=cx_firewall_cmd
runtime_zone() { $FW --get-zone-of-interface="$1" 2>/dev/null; }
permanent_zone() { $FW --permanent --get-zone-of-interface="$1" 2>/dev/null; }
zones_before=$(cx_exec firewalld ls /etc/firewalld/zones | tr '\n' ' ')
note "firewalld's default zone: $($FW --get-default-zone 2>&1); zones on disk: $zones_before"

{
  lab_settings public_address="$PUB" vm_lifecycle=libvirt
  lab_network name="$NET" provider=libvirt bridge="$BR" mac_prefix=-
  lab_host lxdev01 address="$GUEST_ADDR" mac="$GUEST_MAC"
  lab_forward ssh port=2222 to_port=22 description=-
} >"$CONFIG"

# dhcp: the address the guest gets from libvirt's dnsmasq (empty if none).
dhcp() { lv_dhcp "$GUEST" "${1:-4}" 2>/dev/null; }
must_pass() {
  expect_value "$1: DHCP: the guest gets lxdev01's static lease from libvirt's dnsmasq" "$(dhcp)" "$GUEST_ADDR"
  expect_value "$1: DNS: the guest resolves lxdev01.devops.test at 10.1.1.1" \
    "$(resolve4 "$GUEST_NS" lxdev01.devops.test 10.1.1.1)" "$GUEST_ADDR"
  expect_reply c1 tcp "$PUB" 2222 "lxdev01 22 198.51.100.10" "$1: forward c1 -> $PUB:2222 reaches lxdev01:22"
  expect_reply "$GUEST_NS" tcp 198.51.100.10 7000 "lan 7000 $PUB" "$1: egress lxdev01 -> c1:7000 (masqueraded)"
}

# ================================================================== 1. apply
note "1. apply with firewalld running: libvirt's bridge goes into zone virtnat"
out=$(vn apply 2>&1)
rc=$?
note "apply said: $(tr '\n' '|' <<<"$out")"
if [ $rc -eq 0 ] && [[ "$out" == *"network $NET: defined, started"* ]] && [[ "$out" == *"$BR to zone virtnat"* ]]; then
  pass "apply defines $NET in libvirt and puts $BR into zone virtnat"
else
  fail "apply defines $NET in libvirt and puts $BR into zone virtnat" "exit $rc" "$out"
fi
has_text "libvirt holds $NET in mode open (libvirt gives its bridge no zone)" \
  "$(lv_virsh net-dumpxml "$NET" 2>&1)" "<forward mode='open'/>"
expect_value "$BR is in zone virtnat (runtime)" "$(runtime_zone "$BR")" virtnat
expect_value "$BR is in zone virtnat (permanent)" "$(permanent_zone "$BR")" virtnat
lv_plug_guest "$GUEST" "$BR" "$GUEST_MAC" || lv_bail "cannot plug the guest namespace"
lv_wait_for 15 lv_port_forwarding "lvp-$GUEST" || note "lvp-$GUEST is not forwarding yet"
start_server "$GUEST_NS" lxdev01 --tcp 22
start_server c1 lan --tcp 7000
start_server host hostsvc --tcp 9999
ip -n "$LAB_PREFIX-c1" route replace 10.1.1.0/24 via "$PUB"
out=$(vn hook install 2>&1)
check "virtnat hook install, then a libvirtd restart" lv_restart
check "define domain lxdev01 on $NET" lv_define_domain lxdev01 "$GUEST_MAC" "network:$NET"
check "start lxdev01" lv_virsh -q start lxdev01
if lv_wait_for 3 lv_has_elem tcp 2222 "$GUEST_ADDR" 22; then pass "the hook opened lxdev01's forward"; else fail "the hook opened lxdev01's forward" "$(lv_dnat_elements)"; fi
must_pass "zone virtnat"
expect_value "the LAN gets no answer from the guests' dnsmasq (c1 -> 10.1.1.1:53)" \
  "$(resolve4 c1 lxdev01.devops.test 10.1.1.1)" ""
expect_no_reply c1 tcp "$PUB" 2299 any "an unforwarded port (c1 -> $PUB:2299) gets nothing"
expect_no_reply c1 tcp "$GUEST_ADDR" 22 any "a guest by its address (c1 -> $GUEST_ADDR:22, routed) gets nothing"
expect_no_reply "$GUEST_NS" tcp 10.1.1.1 9999 any "a guest gets nothing else of the host (-> 10.1.1.1:9999)"
expect_reply host tcp 10.1.1.1 9999 "hostsvc 9999" "control: the host's service on 9999 answers the host itself"
out=$(vn doctor 2>&1)
rc=$?
if [ $rc -eq 0 ]; then pass "doctor exits 0 with firewalld and the libvirt network"; else fail "doctor exits 0" "exit $rc" "$out"; fi

# ================================================================== 2. out of the zone
note "2. $BR taken out of zone virtnat at runtime (control), then firewall-cmd --reload"
check "firewall-cmd --zone=virtnat --remove-interface=$BR" $FW --zone=virtnat --remove-interface="$BR"
expect_value "control: in the default zone the guest gets no lease" "$(dhcp 2)" ""
out=$(vn doctor 2>&1)
rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"inet firewalld"* ]]; then
  pass "control: doctor exits 1 and names firewalld's table ($(grep -m1 'inet firewalld' <<<"$out"))"
else
  fail "control: doctor exits 1 and names firewalld's table" "exit $rc" "$out"
fi
check "firewall-cmd --reload" cx_firewalld_reload
expect_value "a reload brings $BR back into zone virtnat (permanent configuration)" "$(runtime_zone "$BR")" virtnat
must_pass "after the reload"

# ================================================================== 3. restart, down
note "3. libvirtd restart, then down"
check "libvirtd restart" lv_restart
expect_value "after the libvirtd restart $BR is still in zone virtnat" "$(runtime_zone "$BR")" virtnat
expect_reply c1 tcp "$PUB" 2222 "lxdev01 22 198.51.100.10" "after the libvirtd restart c1 -> $PUB:2222 reaches lxdev01"
out=$(vn down 2>&1)
note "down said: $(tr '\n' '|' <<<"$out")"
has_text "down deletes zone virtnat" "$out" "deleted zone virtnat"
expect_value "after down $BR is in no zone" "$(runtime_zone "$BR")" ""
expect_value "firewalld's permanent zones are as before apply" \
  "$(cx_exec firewalld ls /etc/firewalld/zones | tr '\n' ' ')" "$zones_before"
expect_no_reply c1 tcp "$PUB" 2222 any "after down c1 -> $PUB:2222 gets nothing"

note "total $(lv_elapsed "$T0")s"
finish
