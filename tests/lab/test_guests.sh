#!/bin/bash
# virtnat with REAL guest VMs: a Debian kernel + busybox initramfs (lab/guest-image) booted by
# a private libvirtd in the lab's host namespace (KVM when usable, else software emulation).
#   bash tests/lab/test_guests.sh BUILD_DIR
#
# The config has a libvirt network (provider libvirt, mode nat) with lxdev01 and lxdev02 and a
# standalone network (virtnat's own bridge and dnsmasq) with lxdev03, both dual-stack, and
# forwards to each (TCP, UDP, a port range, an allowlist per family) on public_address and
# public_address6. The guests run DHCPv6 too (dhclient -6 with a DUID-LL in the image). Then: virtnat apply, virtnat hook install, libvirtd
# restarted, the three VMs booted at once, and every promise checked with what the VMs
# themselves say and do:
#   1. every VM gets exactly its static address from DHCP (libvirt's dnsmasq, virtnat's
#      dnsmasq) and the server's lease names it, and its IPv6 address (derived from the IPv4
#      one) from DHCPv6 with a default route from router advertisements, it resolves its neighbour's FQDN (on the
#      standalone network the neighbour lxdev04 is never booted: its name resolves from the
#      config alone) and unknown names get NXDOMAIN
#   2. VMs reach the LAN through NAT and NAT66 (the LAN sees the host's address); the LAN
#      cannot reach a VM directly, over either family
#   3. LAN clients reach each VM's services through the forwards, over IPv4 and IPv6: TCP,
#      UDP, HTTP, a port range mapped port by port; the allowlist holds per family;
#      unforwarded ports get nothing
#   4. hairpin: VM 2 (and the VM on the other network) reach VM 1 through the public
#      address; the host does too
#   5. virsh shutdown (ACPI) and virsh destroy close a VM's forwards (both families) at
#      once; starting the VMs again opens them, and they get the same addresses again
#   6. libvirtd restarted while the VMs run: same QEMU processes, and everything still works
#      (DHCP renewals included)
# Every assertion can fail; the negative ones are the controls.
# shellcheck disable=SC2317 # helpers are called indirectly (lv_wait_for, check)
# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "${1:-}"
# shellcheck source=tests/lab/libvirt_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/libvirt_lib.sh"
# shellcheck source=tests/lab/guest_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/guest_lib.sh"

T0=$EPOCHREALTIME
lv_require_root_and_tools
for tool in jq python3 busybox apt-get dpkg-deb; do
  command -v "$tool" >/dev/null 2>&1 || lv_bail "$tool is missing (run scripts/install-deps)"
done
DHCLIENT=$(command -v dhclient) || lv_bail "dhclient is missing (run scripts/install-deps)"

# The guest image (cached after the first run) is made while the lab and libvirtd start.
lv_make_work
# The guests run DHCPv6 with Debian's dhclient (their busybox has no DHCPv6 client).
(vg_prepare "$DHCLIENT" >"$LV_WORK/prepare.log" 2>&1 && echo "$VG_KERNEL $VG_VIRT" >"$LV_WORK/prepare.done") &
PREPARE_PID=$!

# The CLI shares /run/virtnat with the hook: no private state folder for this test.
lv_lab_for_hook --without-nbr0
# The LAN is dual-stack: public_address6 on the host's uplink, c1 and c2 beside it.
{ in_ns host sysctl -q -w net.ipv6.conf.all.forwarding=1 >/dev/null &&
  addr6_add host uplink "$LAB6_PUB/64" && addr6_add c1 eth0 "$LAB6_C1/64" &&
  addr6_add c2 eth0 "$LAB6_C2/64" && wait_dad host c1 c2; } || lv_bail "cannot make the LAN dual-stack"
# Standalone networks keep their dnsmasq files under VIRTNAT_LIB_DIR; dnsmasq drops root to
# user dnsmasq and then reads them.
chmod 0755 "$WORK_DIR"
SA_LIB="$WORK_DIR/lib"

PUB=198.51.100.1
C1=198.51.100.10
C2=198.51.100.20
GW1=10.1.1.1
GW3=10.2.2.1
PUB6=$LAB6_PUB
C1_6=$LAB6_C1
C2_6=$LAB6_C2
declare -A MAC=([lxdev01]=02:ff:0a:0a:06:1c [lxdev02]=02:ff:0a:0a:06:1d [lxdev03]=02:ff:0a:0a:07:1e)
declare -A ADDR=([lxdev01]=10.1.1.28 [lxdev02]=10.1.1.29 [lxdev03]=10.2.2.30)
# Derived from the IPv4 addresses: the network's prefix + the last octet in hex.
declare -A ADDR6=([lxdev01]=fd00:1:1::1c [lxdev02]=fd00:1:1::1d [lxdev03]=fd00:2:2::1e)
declare -A FQDN=([lxdev01]=lxdev01.devops.test [lxdev02]=lxdev02.devops.test [lxdev03]=lxdev03.sa.test)
declare -A TARGET=([lxdev01]=network:vm_nat [lxdev02]=network:vm_nat [lxdev03]=vsbr0)
VMS=(lxdev01 lxdev02 lxdev03)

cat >"$CONFIG" <<EOF
[settings]
table = "$TABLE"
public_address = "$PUB"
public_address6 = "$PUB6"
vm_lifecycle = "libvirt"

[[network]]
name = "vm_nat"
mode = "nat"
provider = "libvirt"
bridge = "vnat0"
address = "$GW1/24"
dhcp_range = "10.1.1.100-10.1.1.254"
address6 = "fd00:1:1::1/64"
dhcp_range6 = "fd00:1:1::100-fd00:1:1::1ff"
domain = "devops.test"

[[network.host]]
name = "lxdev01"
address = "${ADDR[lxdev01]}"
mac = "${MAC[lxdev01]}"

[[network.host]]
name = "lxdev02"
address = "${ADDR[lxdev02]}"
mac = "${MAC[lxdev02]}"

[[network]]
name = "vm_sa"
mode = "nat"
provider = "standalone"
bridge = "vsbr0"
address = "$GW3/24"
dhcp_range = "10.2.2.100-10.2.2.150"
address6 = "fd00:2:2::1/64"
domain = "sa.test"

[[network.host]]
name = "lxdev03"
address = "${ADDR[lxdev03]}"
mac = "${MAC[lxdev03]}"

[[network.host]]
name = "lxdev04"
address = "10.2.2.31"
mac = "02:ff:0a:0a:07:1f"

[[forward]]
host = "lxdev01"
port = "2222"
to_port = "22"
description = "ssh to lxdev01"

[[forward]]
host = "lxdev01"
protocol = "udp"
port = "5353"
to_port = "53"

[[forward]]
host = "lxdev01"
port = "8080"
to_port = "80"
description = "web on lxdev01 (busybox httpd)"

[[forward]]
host = "lxdev02"
port = "9000-9002"
to_port = "8000-8002"
description = "a range, port by port"

[[forward]]
host = "lxdev02"
protocol = "udp"
port = "5354"
to_port = "53"

[[forward]]
host = "lxdev03"
port = "2223"
to_port = "22"
source = ["$C1/32", "$C1_6/128"]
description = "only c1"

[[forward]]
host = "lxdev03"
protocol = "tcp,udp"
port = "5355"
to_port = "53"
EOF

# vn ARGS...: virtnat inside the lab (config /etc/virtnat/virtnat.toml, state /run/virtnat).
vn() { lv_exec env VIRTNAT_LIB_DIR="$SA_LIB" "$VIRTNAT" "$@"; }

# dnat_elements: the map fwd_dnat, one element a line: "LISTEN PROTO PORT TARGET TOPORT".
dnat_elements() {
  nft_host -j list map inet "$TABLE" fwd_dnat 2>/dev/null | jq -r '
    .nftables[] | select(.map) | (.map.elem // [])[]
    | [(.[0].concat[]), (.[1].concat[])] | map(tostring) | join(" ")'
}
# host_elements HOST: the elements whose target is HOST's address.
host_elements() { dnat_elements | awk -v a="${ADDR[$1]}" '$4 == a' | sort; }
# has_elements VM / has_no_elements VM: some / none of VM's forwards are in fwd_dnat.
has_elements() { [ -n "$(host_elements "$1")" ]; }
has_no_elements() { [ -z "$(host_elements "$1")" ]; }

# check_vm_elements DESC VM yes|no: VM's forwards are (not) in fwd_dnat right now.
check_vm_elements() {
  local desc=$1 vm=$2 want=$3
  if { [ "$want" = yes ] && has_elements "$vm"; } || { [ "$want" = no ] && has_no_elements "$vm"; }; then
    pass "$desc"
  else
    fail "$desc" "fwd_dnat elements:" "$(dnat_elements)"
  fi
}

# wait_vms_ready SECONDS VM...: all of them say ready (they boot in parallel).
wait_vms_ready() {
  local timeout=$1 vm t=$EPOCHREALTIME ok=0
  shift
  for vm in "$@"; do
    if vg_wait_ready "$vm" "$timeout"; then
      pass "VM $vm booted and is ready after $(lv_elapsed "$t")s: $(vg_ready_line "$vm")"
    else
      fail "VM $vm booted and is ready" "state: $(lv_domain_state "$vm")" "$(vg_dump "$vm")"
      ok=1
    fi
  done
  return $ok
}

# check_lease VM: the DHCP lease the VM reported is exactly its static address, with the
# network's gateway, DNS server and domain.
check_lease() {
  local vm=$1 gw line want
  case "$vm" in lxdev03) gw=$GW3 ;; *) gw=$GW1 ;; esac
  want="vnguest: lease ${ADDR[$vm]}/24 router $gw dns $gw domain ${FQDN[$vm]#*.}"
  line=$(vg_console "$vm" | grep -m1 '^vnguest: lease ')
  if [[ "$line" == "$want"* ]] && [ "$(vg_address "$vm")" = "${ADDR[$vm]}/24" ]; then
    pass "VM $vm got exactly its static address from DHCP ($line)"
  else
    fail "VM $vm got exactly its static address from DHCP" "expected: $want" "got: $line" "$(vg_dump "$vm")"
  fi
}

# check_guest_addr VM: the address on the VM's eth0 (asked inside the VM) is its static one, alone.
check_guest_addr() {
  local vm=$1 out
  out=$(vg_exec "$vm" "ip -4 -o addr show dev eth0" 2>&1 | awk '{ print $4 }' | tr '\n' ' ')
  if [ "$out" = "${ADDR[$vm]}/24 " ]; then
    pass "inside VM $vm, eth0 has ${ADDR[$vm]}/24 and nothing else"
  else
    fail "inside VM $vm, eth0 has ${ADDR[$vm]}/24 and nothing else" "got: $out"
  fi
}

# check_resolve VM FQDN ADDRESS [a|aaaa]: the VM's resolver (from DHCP) answers exactly ADDRESS.
check_resolve() {
  local out type=${4:-a}
  out=$(vg_resolve "$1" "$2" "$type" | tr '\n' ' ')
  if [ "$out" = "$3 " ]; then
    pass "VM $1 resolves $2 ($type) to $3"
  else
    fail "VM $1 resolves $2 ($type) to $3" "got: '$out'" "$(vg_exec "$1" "cat /etc/resolv.conf; nslookup -type=$type $2" 2>&1)"
  fi
}

# check_lease6 VM: the DHCPv6 lease the VM reported is exactly its address6, the VM's eth0
# has it as its only global IPv6 address, and a router advertisement gave it a default route
# (via the router's link-local address; the guest sets no IPv6 route itself).
check_lease6() {
  local vm=$1 line addrs route
  line=$(vg_console "$vm" | grep -m1 '^vnguest: lease6 ')
  if [[ "$line" == "vnguest: lease6 ${ADDR6[$vm]}/128 "* ]]; then
    pass "VM $vm got exactly its address6 from DHCPv6 ($line)"
  else
    fail "VM $vm got exactly its address6 from DHCPv6" "expected: ${ADDR6[$vm]}/128" "got: $line" \
      "$(vg_exec "$vm" "cat /run/dhclient6.log" 2>&1 | tail -n 5)" "$(vg_dump "$vm")"
  fi
  addrs=$(vg_exec "$vm" "ip -6 -o addr show dev eth0 scope global" 2>&1 | awk '{ print $4 }' | tr '\n' ' ')
  route=$(vg_exec "$vm" "ip -6 route show default" 2>&1)
  if [ "$addrs" = "${ADDR6[$vm]}/128 " ] && [[ "$route" == "default via fe80::"* ]]; then
    pass "inside VM $vm, eth0 has ${ADDR6[$vm]} alone and a default route from a router advertisement"
  else
    fail "inside VM $vm, eth0 has ${ADDR6[$vm]} alone and a default route from RA" "addresses: $addrs" "route: $route"
  fi
}

# start_vm VM: virsh start (the console of an earlier boot is set aside first).
start_vm() { check "virsh start $1" vg_start "$1"; }

# check_no_resolve VM FQDN: the VM's resolver knows no address for FQDN (its network's
# dnsmasq answers for its own domain only, and only with the configured hosts).
check_no_resolve() {
  local out
  out=$(vg_exec "$1" "nslookup -type=a $2" 2>&1)
  if ! grep -q '^Name:' <<<"$out" && grep -q 'NXDOMAIN' <<<"$out"; then
    pass "VM $1 gets NXDOMAIN for $2"
  else
    fail "VM $1 gets NXDOMAIN for $2" "$out"
  fi
}

# http_get NODE URL: busybox wget from a lab node, the body on stdout.
http_get() { in_ns "$1" timeout 10 busybox wget -q -O - "$2" 2>&1; }

# ================================================================== 0. set-up
note "0. apply, hook install, libvirtd restart, three VMs booted at once"
out=$(vn apply 2>&1)
rc=$?
if [ $rc -eq 0 ]; then pass "virtnat apply (libvirt network vm_nat + standalone network vm_sa)"; else
  fail "virtnat apply" "exit $rc" "$out"
  finish
fi
note "apply said: $(tr '\n' ';' <<<"$out")"
check "libvirt network vm_nat is active" lv_network_is_active vm_nat
check "virtnat's bridge vsbr0 exists in the lab's host namespace" ip -n "$HOST_NS" link show vsbr0
out=$(vn hook install 2>&1)
if [[ "$out" == *restart* ]]; then pass "virtnat hook install says libvirtd must be restarted"; else fail "virtnat hook install says restart" "$out"; fi
check "libvirtd restart (reads the hooks)" lv_restart

if ! wait "$PREPARE_PID" || [ ! -f "$LV_WORK/prepare.done" ]; then
  lv_bail "the guest image could not be made:" "$LV_WORK/prepare.log"
fi
read -r VG_KERNEL VG_VIRT <"$LV_WORK/prepare.done"
VG_INITRD="$LV_WORK/guest-initrd"
note "guest image: $VG_KERNEL + $VG_INITRD ($(du -k "$VG_INITRD" | cut -f1) KiB), virtualisation: $VG_VIRT"
for vm in "${VMS[@]}"; do
  check "define VM $vm (${TARGET[$vm]}, MAC ${MAC[$vm]})" vg_define "$vm" "${MAC[$vm]}" "${TARGET[$vm]}"
done
for vm in "${VMS[@]}"; do check_vm_elements "before $vm runs, it has no fwd_dnat element" "$vm" no; done
t=$EPOCHREALTIME
for vm in "${VMS[@]}"; do start_vm "$vm"; done
note "timing: three virsh start $(lv_elapsed "$t")s"
for vm in "${VMS[@]}"; do check_vm_elements "right after virsh start $vm, its forwards are in fwd_dnat (the hook)" "$vm" yes; done
# Wait for the guests; the LAN's test peers start meanwhile.
start_server46 c1 c1 --tcp 7000 --udp 7001
wait_vms_ready 200 "${VMS[@]}" || {
  note "the VMs did not all boot; the rest would only repeat that"
  finish
}
note "timing: boot of three VMs at once $(lv_elapsed "$t")s"

# ================================================================== 1. DHCP and DNS
note "1. DHCP gives each VM its static address; DNS knows the neighbours"
for vm in "${VMS[@]}"; do check_lease "$vm"; done
for vm in "${VMS[@]}"; do check_guest_addr "$vm"; done
for vm in "${VMS[@]}"; do check_lease6 "$vm"; done
leases=$(lv_virsh -q net-dhcp-leases vm_nat 2>&1)
for vm in lxdev01 lxdev02; do
  if grep -Eq "${MAC[$vm]} +ipv4 +${ADDR[$vm]}/24 +$vm " <<<"$leases"; then
    pass "libvirt's dnsmasq leased ${ADDR[$vm]} to $vm's MAC under the name $vm"
  else
    fail "libvirt's dnsmasq leased ${ADDR[$vm]} to $vm's MAC under the name $vm" "$leases"
  fi
done
for vm in lxdev01 lxdev02; do
  if grep -Eq " +ipv6 +${ADDR6[$vm]}/64 " <<<"$leases"; then
    pass "libvirt's dnsmasq leased ${ADDR6[$vm]} to $vm over DHCPv6 (matched by its DUID-LL)"
  else
    fail "libvirt's dnsmasq leased ${ADDR6[$vm]} to $vm over DHCPv6" "$leases"
  fi
done
leases=$(vn leases vm_sa 2>&1)
if grep -i "${MAC[lxdev03]}" <<<"$leases" | grep -w "${ADDR[lxdev03]}" | grep -qw lxdev03; then
  pass "virtnat's dnsmasq leased ${ADDR[lxdev03]} to lxdev03's MAC under the name lxdev03"
else
  fail "virtnat's dnsmasq leased ${ADDR[lxdev03]} to lxdev03's MAC under the name lxdev03" "$leases"
fi
if grep -w "${ADDR6[lxdev03]}" <<<"$leases" | grep -qw lxdev03; then
  pass "virtnat's dnsmasq leased ${ADDR6[lxdev03]} to lxdev03 over DHCPv6 (virtnat leases shows it)"
else
  fail "virtnat's dnsmasq leased ${ADDR6[lxdev03]} to lxdev03 over DHCPv6" "$leases"
fi
check_resolve lxdev01 lxdev02.devops.test "${ADDR[lxdev02]}"
check_resolve lxdev02 lxdev01.devops.test "${ADDR[lxdev01]}"
check_resolve lxdev03 lxdev03.sa.test "${ADDR[lxdev03]}"
check_resolve lxdev03 lxdev04.sa.test 10.2.2.31
check_resolve lxdev01 lxdev01 "${ADDR[lxdev01]}"
check_resolve lxdev01 lxdev02.devops.test "${ADDR6[lxdev02]}" aaaa
check_resolve lxdev03 lxdev04.sa.test fd00:2:2::1f aaaa
check_no_resolve lxdev01 nosuch.devops.test
check_no_resolve lxdev03 lxdev01.sa.test

# ================================================================== 2. NAT to the LAN
note "2. VMs reach the LAN through NAT"
vg_expect_reply lxdev01 tcp "$C1" 7000 "c1 7000 $PUB" "VM lxdev01 -> c1 tcp 7000: the LAN sees the host's address"
vg_expect_reply lxdev02 udp "$C1" 7001 "c1 7001 $PUB" "VM lxdev02 -> c1 udp 7001: the LAN sees the host's address"
vg_expect_reply lxdev03 tcp "$C1" 7000 "c1 7000 $PUB" "VM lxdev03 (standalone network) -> c1 tcp 7000: the LAN sees the host's address"
# A LAN client routed straight to the guests' subnets gets no new connection (mode nat).
in_ns c1 ip route add 10.1.1.0/24 via "$PUB"
in_ns c1 ip route add 10.2.2.0/24 via "$PUB"
expect_no_reply c1 tcp "${ADDR[lxdev01]}" 22 any "c1 routed straight to lxdev01 ${ADDR[lxdev01]}:22 gets nothing"
expect_no_reply c1 tcp "${ADDR[lxdev03]}" 22 any "c1 routed straight to lxdev03 ${ADDR[lxdev03]}:22 gets nothing"
vg_expect_reply lxdev01 tcp "$C1_6" 7000 "c1 7000 $PUB6" "VM lxdev01 -> c1 tcp [$C1_6]:7000: NAT66, the LAN sees the host's address"
vg_expect_reply lxdev03 udp "$C1_6" 7001 "c1 7001 $PUB6" "VM lxdev03 (standalone network) -> c1 udp [$C1_6]:7001: NAT66"
in_ns c1 ip -6 route add fd00:1:1::/64 via "$PUB6"
in_ns c1 ip -6 route add fd00:2:2::/64 via "$PUB6"
expect_no_reply c1 tcp "${ADDR6[lxdev01]}" 22 any "c1 routed straight to lxdev01 [${ADDR6[lxdev01]}]:22 gets nothing"
expect_no_reply c1 tcp "${ADDR6[lxdev03]}" 22 any "c1 routed straight to lxdev03 [${ADDR6[lxdev03]}]:22 gets nothing"

# ================================================================== 3. forwards
note "3. the LAN reaches the VMs through their forwards"
check_forwards() { # SUFFIX: the whole forward matrix from the LAN, described with SUFFIX
  local s=$1 body
  expect_reply c1 tcp "$PUB" 2222 "lxdev01 22 $C1" "c1 -> $PUB:2222 reaches VM lxdev01:22$s"
  expect_reply c2 udp "$PUB" 5353 "lxdev01 53 $C2" "c2 -> udp $PUB:5353 reaches VM lxdev01:53$s"
  body=$(http_get c1 "http://$PUB:8080/cgi-bin/whoami")
  if [ "$body" = "lxdev01 80 $C1" ]; then
    pass "c1 -> http://$PUB:8080/ reaches busybox httpd in VM lxdev01$s (got: $body)"
  else
    fail "c1 -> http://$PUB:8080/ reaches busybox httpd in VM lxdev01$s" "got: $body" \
      "again, verbose: $(in_ns c1 timeout 10 busybox wget -O - "http://$PUB:8080/cgi-bin/whoami" 2>&1)"
  fi
  expect_reply c1 tcp "$PUB" 9000 "lxdev02 8000 $C1" "c1 -> $PUB:9000 reaches VM lxdev02:8000 (range)$s"
  expect_reply c2 tcp "$PUB" 9002 "lxdev02 8002 $C2" "c2 -> $PUB:9002 reaches VM lxdev02:8002 (range, port by port)$s"
  expect_reply c1 udp "$PUB" 5354 "lxdev02 53 $C1" "c1 -> udp $PUB:5354 reaches VM lxdev02:53$s"
  expect_reply c1 tcp "$PUB" 2223 "lxdev03 22 $C1" "c1 -> $PUB:2223 reaches VM lxdev03:22 (allowlisted)$s"
  expect_no_reply c2 tcp "$PUB" 2223 timeout "c2 -> $PUB:2223 gets nothing: not on lxdev03's allowlist$s"
  expect_reply c2 tcp "$PUB" 5355 "lxdev03 53 $C2" "c2 -> $PUB:5355 reaches VM lxdev03:53 (tcp of tcp,udp)$s"
  expect_reply c2 udp "$PUB" 5355 "lxdev03 53 $C2" "c2 -> udp $PUB:5355 reaches VM lxdev03:53 (udp of tcp,udp)$s"
}
# check_forwards6 SUFFIX: the same forwards on public_address6 (a forward without listen to a
# dual-stack host opens on both), the allowlist's IPv6 entry included.
check_forwards6() {
  local s=$1 body
  expect_reply c1 tcp "$PUB6" 2222 "lxdev01 22 $C1_6" "c1 -> [$PUB6]:2222 reaches VM lxdev01:22 over IPv6$s"
  expect_reply c2 udp "$PUB6" 5353 "lxdev01 53 $C2_6" "c2 -> udp [$PUB6]:5353 reaches VM lxdev01:53 over IPv6$s"
  body=$(http_get c1 "http://[$PUB6]:8080/cgi-bin/whoami")
  if [ "$body" = "lxdev01 80 $C1_6" ]; then
    pass "c1 -> http://[$PUB6]:8080/ reaches busybox httpd in VM lxdev01$s (got: $body)"
  else
    fail "c1 -> http://[$PUB6]:8080/ reaches busybox httpd in VM lxdev01$s" "got: $body"
  fi
  expect_reply c2 tcp "$PUB6" 9002 "lxdev02 8002 $C2_6" "c2 -> [$PUB6]:9002 reaches VM lxdev02:8002 (range) over IPv6$s"
  expect_reply c1 tcp "$PUB6" 2223 "lxdev03 22 $C1_6" "c1 -> [$PUB6]:2223 reaches VM lxdev03:22 (allowlisted by its IPv6 entry)$s"
  expect_no_reply c2 tcp "$PUB6" 2223 timeout "c2 -> [$PUB6]:2223 gets nothing: not on lxdev03's allowlist$s"
  expect_reply c2 udp "$PUB6" 5355 "lxdev03 53 $C2_6" "c2 -> udp [$PUB6]:5355 reaches VM lxdev03:53 over IPv6$s"
}
check_forwards ""
check_forwards6 ""
expect_no_reply c1 tcp "$PUB6" 9003 any "c1 -> [$PUB6]:9003 (just past the range) gets nothing"
expect_no_reply c1 tcp "$PUB" 9003 any "c1 -> $PUB:9003 (just past the range) gets nothing"
expect_no_reply c1 tcp "$PUB" 22 any "c1 -> $PUB:22 (no forward; the VM's own port) gets nothing"
expect_no_reply c1 tcp "$PUB" 8001 any "c1 -> $PUB:8001 (the range's target port, not its public port) gets nothing"

# ================================================================== 4. hairpin
note "4. hairpin: VMs and the host reach a VM through the public address"
# lxdev03's forward 2223 only admits c1: a VM's hairpin connection comes from its own address.
vg_expect_no_reply lxdev01 tcp "$PUB" 2223 "VM lxdev01 -> $PUB:2223 gets nothing (lxdev03's allowlist admits only c1)"
vg_expect_reply lxdev02 tcp "$PUB" 2222 "lxdev01 22 $GW1" "VM lxdev02 -> $PUB:2222 reaches VM lxdev01 (hairpin, masqueraded to the gateway)"
vg_expect_reply lxdev02 udp "$PUB" 5353 "lxdev01 53 $GW1" "VM lxdev02 -> udp $PUB:5353 reaches VM lxdev01 (hairpin)"
vg_expect_reply lxdev03 tcp "$PUB" 9001 "lxdev02 8001" "VM lxdev03 (other network) -> $PUB:9001 reaches VM lxdev02:8001"
expect_reply host tcp "$PUB" 2222 "lxdev01 22" "the host -> $PUB:2222 reaches VM lxdev01"
vg_expect_reply lxdev02 tcp "$PUB6" 2222 "lxdev01 22 fd00:1:1::1" "VM lxdev02 -> [$PUB6]:2222 reaches VM lxdev01 (IPv6 hairpin, masqueraded to the gateway)"
vg_expect_reply lxdev03 tcp "$PUB6" 9001 "lxdev02 8001" "VM lxdev03 (other network) -> [$PUB6]:9001 reaches VM lxdev02:8001"

# ================================================================== 5. shutdown, destroy, start
note "5. virsh shutdown / destroy close a VM's forwards at once; start opens them again"
t=$EPOCHREALTIME
check "virsh shutdown lxdev02 (ACPI power button)" lv_virsh -q shutdown lxdev02
check "virsh destroy lxdev03" lv_virsh -q destroy lxdev03
check_vm_elements "right after virsh destroy returns, lxdev03 has no fwd_dnat element" lxdev03 no
expect_no_reply c1 tcp "$PUB" 2223 any "after destroy c1 -> $PUB:2223 gets nothing"
expect_no_reply c2 udp "$PUB" 5355 any "after destroy c2 -> udp $PUB:5355 gets nothing"
expect_no_reply c1 tcp "$PUB6" 2223 any "after destroy c1 -> [$PUB6]:2223 gets nothing"
if lv_wait_domain_state lxdev02 "shut off" 90; then
  pass "lxdev02 powered itself off after virsh shutdown ($(lv_elapsed "$t")s): $(vg_console lxdev02 | grep -m1 'power button')"
else
  fail "lxdev02 powered itself off after virsh shutdown" "state: $(lv_domain_state lxdev02)" "$(vg_dump lxdev02)"
fi
check_vm_elements "once lxdev02 is shut off, it has no fwd_dnat element" lxdev02 no
expect_no_reply c1 tcp "$PUB" 9000 any "after shutdown c1 -> $PUB:9000 gets nothing"
expect_no_reply c1 udp "$PUB" 5354 any "after shutdown c1 -> udp $PUB:5354 gets nothing"
expect_no_reply c1 tcp "$PUB6" 9000 any "after shutdown c1 -> [$PUB6]:9000 gets nothing"
check_vm_elements "lxdev01's forwards stay" lxdev01 yes
expect_reply c1 tcp "$PUB" 2222 "lxdev01 22 $C1" "c1 -> $PUB:2222 still reaches VM lxdev01"
t=$EPOCHREALTIME
start_vm lxdev02
start_vm lxdev03
check_vm_elements "right after virsh start, lxdev02's forwards are back" lxdev02 yes
check_vm_elements "right after virsh start, lxdev03's forwards are back" lxdev03 yes
wait_vms_ready 200 lxdev02 lxdev03
note "timing: second boot of two VMs $(lv_elapsed "$t")s"
check_lease lxdev02
check_lease lxdev03
check_lease6 lxdev02
check_lease6 lxdev03
expect_reply c1 tcp "$PUB" 9001 "lxdev02 8001 $C1" "after the restart c1 -> $PUB:9001 reaches VM lxdev02:8001"
expect_reply c1 tcp "$PUB" 2223 "lxdev03 22 $C1" "after the restart c1 -> $PUB:2223 reaches VM lxdev03"
expect_no_reply c2 tcp "$PUB" 2223 timeout "after the restart c2 -> $PUB:2223 still gets nothing (allowlist)"
expect_reply c1 tcp "$PUB6" 9001 "lxdev02 8001 $C1_6" "after the restart c1 -> [$PUB6]:9001 reaches VM lxdev02:8001"

# ================================================================== 6. libvirtd restart
note "6. libvirtd restarted while the VMs run"
declare -A QEMU_PID=()
for vm in "${VMS[@]}"; do QEMU_PID[$vm]=$(lv_domain_pid "$vm"); done
t=$EPOCHREALTIME
check "libvirtd restart with three VMs running" lv_restart
note "timing: libvirtd restart $(lv_elapsed "$t")s"
for vm in "${VMS[@]}"; do
  if [ -n "${QEMU_PID[$vm]}" ] && [ "$(lv_domain_pid "$vm")" = "${QEMU_PID[$vm]}" ] && lv_domain_is "$vm" running; then
    pass "VM $vm still runs in the same QEMU (${QEMU_PID[$vm]})"
  else
    fail "VM $vm still runs in the same QEMU" "before ${QEMU_PID[$vm]}, after $(lv_domain_pid "$vm"), state $(lv_domain_state "$vm")"
  fi
  check_vm_elements "after the libvirtd restart $vm's forwards are in fwd_dnat" "$vm" yes
done
check_forwards " (after the libvirtd restart)"
check_forwards6 " (after the libvirtd restart)"
vg_expect_reply lxdev02 tcp "$PUB" 2222 "lxdev01 22 $GW1" "after the libvirtd restart: hairpin VM lxdev02 -> VM lxdev01"
vg_expect_reply lxdev01 tcp "$C1" 7000 "c1 7000 $PUB" "after the libvirtd restart: VM lxdev01 -> c1 through NAT"
# The DHCP servers still answer: each VM renews its lease (udhcpc on SIGUSR1); the guest's
# DHCP script logs every lease it gets in /run/dhcp.log.
renew_lease() { # VM: prints "EVENT ADDR/PREFIX" of the answer, or "no answer"
  # shellcheck disable=SC2016 # expanded in the guest
  vg_exec "$1" 'n=$(wc -l </run/dhcp.log); kill -USR1 $(pidof udhcpc); for i in $(seq 1 100); do [ $(wc -l </run/dhcp.log) -gt $n ] && { tail -n 1 /run/dhcp.log; exit 0; }; usleep 100000; done; echo no answer' 2>&1
}
for vm in "${VMS[@]}"; do
  out=$(renew_lease "$vm")
  if [ "$out" = "renew ${ADDR[$vm]}/24" ] || [ "$out" = "bound ${ADDR[$vm]}/24" ]; then
    pass "after the libvirtd restart VM $vm renews its DHCP lease and keeps ${ADDR[$vm]} ($out)"
  else
    fail "after the libvirtd restart VM $vm renews its DHCP lease and keeps ${ADDR[$vm]}" "got: $out"
  fi
done
check_resolve lxdev02 lxdev01.devops.test "${ADDR[lxdev01]}"

note "total $(lv_elapsed "$T0")s"
finish
