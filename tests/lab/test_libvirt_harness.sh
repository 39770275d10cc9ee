#!/bin/bash
# The libvirt lab harness itself (lab/libvirt.sh + libvirt_lib.sh): a real libvirtd runs
# isolated inside the lab's host namespace; its network, bridge, dnsmasq and iptables
# rules exist only there; QEMU domains start and libvirt runs the qemu hook for real;
# a libvirtd restart keeps a domain running; stop leaves nothing behind.
# Needs no virtnat binary. Usage: test_libvirt_harness.sh BUILD_DIR
# shellcheck source=tests/lab/lib.sh
source "$(dirname "$0")/lib.sh" "$1"
# shellcheck source=tests/lab/libvirt_lib.sh
source "$(dirname "$0")/libvirt_lib.sh"

T0=$EPOCHREALTIME
lv_lab_up
NS="$LAB_PREFIX-host"

# What the root namespace looks like before (read-only looks: nft list, /proc).
root_forward_before=$(cat /proc/sys/net/ipv4/ip_forward)
NS_NET=$(ip netns exec "$NS" readlink /proc/self/ns/net)

# check_root_clean DESCRIPTION: no libvirt chain, no vbr9, no lab tap in the root namespace.
root_libvirt_traces() {
  local found=""
  nft list ruleset 2>/dev/null | grep_q -E 'LIBVIRT_|vbr9' && found+="nft ruleset has LIBVIRT_/vbr9; "
  # Legacy iptables: only looked at when its tables already exist (nothing gets loaded).
  if [ -s /proc/net/ip_tables_names ] && command -v iptables-legacy-save >/dev/null; then
    iptables-legacy-save 2>/dev/null | grep_q 'LIBVIRT_' && found+="iptables-legacy has LIBVIRT_; "
  fi
  ip -br link show vbr9 >/dev/null 2>&1 && found+="link vbr9; "
  [ -S /run/libvirt/libvirt-sock ] && found+="/run/libvirt/libvirt-sock; "
  echo "$found"
}
check_root_clean() {
  local traces
  traces=$(root_libvirt_traces)
  if [ -z "$traces" ]; then pass "$1"; else fail "$1" "$traces"; fi
}

# ------------------------------------------------------------------ libvirtd starts
lv_start "$NS"
note "timing: libvirtd start ${LV_START_SECONDS}s"

out=$(lv_virsh version 2>&1)
if [[ "$out" == *"Running hypervisor: QEMU"* ]]; then
  pass "libvirtd answers on qemu:///system inside the lab"
else
  fail "libvirtd answers on qemu:///system inside the lab" "$out"
fi

lvd_pid=$(lv_daemon_pid libvirtd)
vld_pid=$(lv_daemon_pid virtlogd)
if [ -n "$lvd_pid" ] && [ "$(readlink /proc/"$lvd_pid"/ns/net)" = "$NS_NET" ] &&
  [ "$(readlink /proc/"$lvd_pid"/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ]; then
  pass "libvirtd ($lvd_pid) runs in $NS's network namespace and in a private mount namespace"
else
  fail "libvirtd runs in $NS's network namespace and a private mount namespace" "pid '$lvd_pid'"
fi

# shellcheck disable=SC2016 # expanded by the inner bash
check "/run/libvirt is a private tmpfs inside; no libvirt socket outside" \
  bash -c '[ "$(nsenter -t '"$LV_HOLDER"' -m findmnt -no FSTYPE /run/libvirt)" = tmpfs ] && [ ! -S /run/libvirt/libvirt-sock ]'

# /run/virtnat and /etc/virtnat are private too (the hook will use them).
lv_exec sh -c 'echo lab > /run/virtnat/harness-probe && echo lab > /etc/virtnat/harness-probe'
check "/run/virtnat and /etc/virtnat inside the lab are not the real ones" \
  bash -c '[ ! -e /run/virtnat/harness-probe ] && [ ! -e /etc/virtnat/harness-probe ] && [ -e '"$LV_STATE"'/virtnat-etc/harness-probe ]'

active=$(lv_virsh -q net-list --name 2>&1 | sed '/^$/d')
if [ -z "$active" ]; then
  pass "no network is active at start (libvirt's default network does not autostart)"
else
  fail "no network is active at start" "$active"
fi

# ------------------------------------------------------------------ a NAT network
lv_define_network - <<'EOF'
<network>
  <name>harness9</name>
  <forward mode='nat'/>
  <bridge name='vbr9' stp='on' delay='0'/>
  <domain name='harness.test'/>
  <ip address='10.9.9.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='10.9.9.100' end='10.9.9.200'/>
      <host mac='52:54:00:09:09:05' name='vm9.harness.test' ip='10.9.9.5'/>
      <host mac='52:54:00:09:09:06' name='ns9.harness.test' ip='10.9.9.6'/>
    </dhcp>
  </ip>
</network>
EOF
t=$EPOCHREALTIME
check "net-start harness9" lv_virsh -q net-start harness9
check "network harness9 is active" lv_wait_network_active harness9 20
note "timing: net-start $(lv_elapsed "$t")s"

xml=$(lv_virsh net-dumpxml harness9 2>&1)
if grep -q "<host mac='52:54:00:09:09:05' name='vm9.harness.test' ip='10.9.9.5'/>" <<<"$xml"; then
  pass "net-dumpxml has the DHCP host entry"
else
  fail "net-dumpxml has the DHCP host entry" "$xml"
fi

check "bridge vbr9 with 10.9.9.1/24 exists inside $NS" \
  bash -c "ip -n '$NS' -br addr show vbr9 | grep -q '10.9.9.1/24'"
check_exit "bridge vbr9 does not exist in the root namespace" 1 ip link show vbr9

dns_pid=$(lv_network_dnsmasq_pid harness9)
if [ -n "$dns_pid" ] && [ "$(cat /proc/"$dns_pid"/comm 2>/dev/null)" = dnsmasq ] &&
  [ "$(readlink /proc/"$dns_pid"/ns/net)" = "$NS_NET" ]; then
  pass "the network's dnsmasq ($dns_pid) runs inside $NS"
else
  fail "the network's dnsmasq runs inside $NS" "pid '$dns_pid'"
fi
listen=$(ip netns exec "$NS" ss -Hlnu 2>&1)
if grep -q '10.9.9.1:53' <<<"$listen" && grep -Eq '(0\.0\.0\.0|\*)(%vbr9)?:67 ' <<<"$listen"; then
  pass "dnsmasq listens for DNS on 10.9.9.1:53 and DHCP on :67 inside $NS"
else
  fail "dnsmasq listens for DNS and DHCP inside $NS" "$listen"
fi
hosts=$(lv_exec cat /var/lib/libvirt/dnsmasq/harness9.hostsfile 2>&1)
if grep -q '52:54:00:09:09:05,10.9.9.5,vm9' <<<"$hosts"; then
  pass "dnsmasq's hostsfile has the static DHCP host"
else
  fail "dnsmasq's hostsfile has the static DHCP host" "$hosts"
fi

fwi=$(ip netns exec "$NS" iptables -S LIBVIRT_FWI 2>&1)
prt=$(ip netns exec "$NS" iptables -t nat -S LIBVIRT_PRT 2>&1)
if grep -q -- '-o vbr9 -j REJECT' <<<"$fwi" && grep -q -- '-s 10.9.9.0/24 ! -d 10.9.9.0/24 .*MASQUERADE' <<<"$prt"; then
  pass "libvirt's iptables rules (LIBVIRT_FWI reject, LIBVIRT_PRT masquerade) exist inside $NS"
else
  fail "libvirt's iptables rules exist inside $NS" "$fwi" "$prt"
fi
check "ip_forward is on inside $NS (set by libvirt)" \
  bash -c "[ \"\$(ip netns exec '$NS' cat /proc/sys/net/ipv4/ip_forward)\" = 1 ]"
check_root_clean "no libvirt chain, bridge or socket in the root namespace"

# A guest namespace on vbr9 gets its reserved address from libvirt's dnsmasq and
# reaches the LAN client c1 through libvirt's NAT (all inside the lab's namespaces).
check "plug a guest namespace into vbr9" lv_plug_guest lvg9 vbr9 52:54:00:09:09:06
t=$EPOCHREALTIME
lease=$(lv_dhcp lvg9 10 2>&1)
if [ "$lease" = 10.9.9.6 ]; then
  pass "DHCP from libvirt's dnsmasq gives the reserved 10.9.9.6 ($(lv_elapsed "$t")s)"
else
  fail "DHCP from libvirt's dnsmasq gives the reserved 10.9.9.6" "got '$lease'" "$(cat "$LV_WORK/udhcpc-lvg9.log" 2>&1)"
fi
check "the guest namespace reaches the LAN client 198.51.100.10 through libvirt's NAT" \
  lv_guest lvg9 busybox ping -c 1 -W 2 198.51.100.10
masq=$(ip netns exec "$NS" iptables -t nat -S LIBVIRT_PRT -v 2>&1)
if grep -Eq -- '-s 10\.9\.9\.0/24 ! -d 10\.9\.9\.0/24 -c [1-9][0-9]* [0-9]+ -j MASQUERADE$' <<<"$masq"; then
  pass "libvirt's MASQUERADE rule counted the guest's packets"
else
  fail "libvirt's MASQUERADE rule counted the guest's packets" "$masq"
fi

# ------------------------------------------------------------------ the qemu hook
HOOK_LOG="$LV_WORK/hook.log"
mkdir -p "$(lv_hooks_dir)"
cat >"$(lv_hooks_dir)/qemu" <<EOF
#!/bin/sh
echo "\$@" >> '$HOOK_LOG'
# the domain XML arrives on stdin; keep the one of 'start'
if [ "\$2" = start ]; then cat > "$LV_WORK/hook-\$1-start.xml"; fi
exit 0
EOF
chmod 0755 "$(lv_hooks_dir)/qemu"
# shellcheck disable=SC2016 # expanded by the inner bash
check "hooks-dir prints /etc/libvirt/hooks, which is the private folder" \
  bash -c '[ "$(bash '"$LV_SH"' hooks-dir)" = /etc/libvirt/hooks ] && nsenter -t '"$LV_HOLDER"' -m test -x /etc/libvirt/hooks/qemu && [ ! -e /etc/libvirt/hooks/qemu ]'
t=$EPOCHREALTIME
check "restart libvirtd so that it sees the new hook" lv_restart
note "timing: libvirtd restart $(lv_elapsed "$t")s"

MAC1=52:54:00:09:09:05
MAC2=02:ff:0a:0a:06:40
check "define domain hv1 on network harness9" lv_define_domain hv1 "$MAC1" network:harness9
check "define domain hv2 on the lab's bridge nbr0" lv_define_domain hv2 "$MAC2" nbr0
t=$EPOCHREALTIME
check "start domain hv1" lv_virsh -q start hv1
check "domain hv1 is running" lv_wait_domain_running hv1 30
note "timing: domain start $(lv_elapsed "$t")s"
check "start domain hv2" lv_virsh -q start hv2
check "domain hv2 is running" lv_wait_domain_running hv2 30

qemu1=$(lv_domain_pid hv1)
if [ -n "$qemu1" ] && [[ "$(tr '\0' ' ' </proc/"$qemu1"/cmdline 2>/dev/null)" == *"guest=hv1"* ]] &&
  [ "$(readlink /proc/"$qemu1"/ns/net)" = "$NS_NET" ]; then
  pass "hv1's qemu ($qemu1) runs inside $NS"
else
  fail "hv1's qemu runs inside $NS" "pid '$qemu1'"
fi

tap1=$(lv_domain_ifaces hv1 | head -n 1)
tap2=$(lv_domain_ifaces hv2 | head -n 1)
links=$(ip -n "$NS" -br link show master vbr9 2>&1; ip -n "$NS" -br link show master nbr0 2>&1)
if [ -n "$tap1" ] && [ -n "$tap2" ] && ip -n "$NS" -br link show master vbr9 | grep_q "^$tap1 " &&
  ip -n "$NS" -br link show master nbr0 | grep_q "^$tap2 "; then
  pass "hv1's tap $tap1 is on vbr9 and hv2's tap $tap2 on nbr0, inside $NS"
else
  fail "the domains' taps are on their bridges inside $NS" "taps '$tap1' '$tap2'" "$links"
fi
if [ -n "$tap1" ] && ! ip link show "$tap1" >/dev/null 2>&1; then
  pass "tap $tap1 does not exist in the root namespace"
else
  fail "tap '$tap1' does not exist in the root namespace"
fi

ops() { awk -v d="$1" '$1 == d { printf "%s%s", sep, $2; sep = " " }' "$HOOK_LOG" 2>/dev/null; }
want="prepare start started"
got=$(ops hv1)
if [ "$got" = "$want" ]; then
  pass "qemu hook ran for hv1's start: $got"
else
  fail "qemu hook ran for hv1's start" "expected '$want', got '$got'" "$(cat "$HOOK_LOG" 2>&1)"
fi
if grep -q "<mac address='$MAC1'/>" "$LV_WORK/hook-hv1-start.xml" 2>/dev/null; then
  pass "the hook got hv1's domain XML (with its MAC) on stdin"
else
  fail "the hook got hv1's domain XML on stdin" "$(head -c 600 "$LV_WORK/hook-hv1-start.xml" 2>&1)"
fi
if grep -q '^hv1 prepare begin -$' "$HOOK_LOG" 2>/dev/null; then
  pass "hook arguments are DOMAIN OPERATION SUBOPERATION EXTRA ('hv1 prepare begin -')"
else
  fail "hook arguments are DOMAIN OPERATION SUBOPERATION EXTRA" "$(cat "$HOOK_LOG" 2>&1)"
fi

# ------------------------------------------------------------------ restart keeps domains
t=$EPOCHREALTIME
check "libvirtd restart while hv1 and hv2 run" lv_restart
note "timing: libvirtd restart with 2 domains $(lv_elapsed "$t")s"
new_lvd=$(lv_daemon_pid libvirtd)
if [ -n "$new_lvd" ] && [ "$new_lvd" != "$lvd_pid" ]; then
  pass "libvirtd is a new process ($lvd_pid -> $new_lvd)"
else
  fail "libvirtd is a new process" "old '$lvd_pid', new '$new_lvd'"
fi
if lv_domain_is hv1 running && [ -n "$qemu1" ] && [ -e "/proc/$qemu1" ] && [ "$(lv_domain_pid hv1)" = "$qemu1" ]; then
  pass "hv1 is still running with the same qemu ($qemu1) after the restart"
else
  fail "hv1 is still running with the same qemu after the restart" "state '$(lv_domain_state hv1)', pid '$(lv_domain_pid hv1)'"
fi
got=$(ops hv1)
want="prepare start started reconnect"
if [ "$got" = "$want" ]; then
  pass "qemu hook ran 'reconnect' for hv1 after the restart"
else
  fail "qemu hook ran 'reconnect' for hv1 after the restart" "expected '$want', got '$got'"
fi

t=$EPOCHREALTIME
check "destroy hv1" lv_virsh -q destroy hv1
check "hv1 is shut off" lv_wait_domain_state hv1 "shut off" 20
note "timing: domain destroy $(lv_elapsed "$t")s"
if [ -n "$qemu1" ] && lv_wait_for 10 bash -c "[ ! -e /proc/$qemu1 ]"; then
  pass "hv1's qemu ($qemu1) is gone"
else
  fail "hv1's qemu ($qemu1) is gone"
fi
# 'release' may come a moment after destroy returns.
lv_wait_for 10 grep -q '^hv1 release ' "$HOOK_LOG"
got=$(ops hv1)
want="prepare start started reconnect stopped release"
if [ "$got" = "$want" ]; then
  pass "qemu hook ran for hv1: $got"
else
  fail "qemu hook ran prepare/start/started/reconnect/stopped/release for hv1" "expected '$want', got '$got'" "$(cat "$HOOK_LOG" 2>&1)"
fi
if grep -q '^hv1 stopped end -$' "$HOOK_LOG" && grep -q '^hv1 release end -$' "$HOOK_LOG"; then
  pass "stopped and release carry the sub-operation 'end'"
else
  fail "stopped and release carry the sub-operation 'end'" "$(cat "$HOOK_LOG" 2>&1)"
fi
check "hv1 starts again" lv_virsh -q start hv1
check "hv1 is running again" lv_wait_domain_running hv1 30

# ------------------------------------------------------------------ stop leaves nothing
qemu1=$(lv_domain_pid hv1)
qemu2=$(lv_domain_pid hv2)
lvd_pid=$(lv_daemon_pid libvirtd)
holder=$LV_HOLDER
t=$EPOCHREALTIME
check "lab/libvirt.sh stop" bash "$LV_SH" stop
note "timing: stop with 2 running domains and a network $(lv_elapsed "$t")s"
left=""
for pid in "$qemu1" "$qemu2" "$lvd_pid" "$vld_pid" "$dns_pid" "$holder"; do
  if [ -n "$pid" ] && [ -e "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
    left+="$pid($(cat /proc/"$pid"/comm 2>/dev/null)) "
  fi
done
if [ -z "$left" ] && [ -n "$qemu1" ] && [ -n "$qemu2" ]; then
  pass "no qemu, libvirtd, virtlogd, dnsmasq or holder process is left"
else
  fail "no qemu, libvirtd, virtlogd, dnsmasq or holder process is left" "left: '$left'; qemu pids '$qemu1' '$qemu2'"
fi
check "the state folder $LV_STATE is gone" bash -c "[ ! -e '$LV_STATE' ]"
if ! ip -n "$NS" link show vbr9 >/dev/null 2>&1 && ! ip -n "$NS" -br link | grep_q '^vnet'; then
  pass "vbr9 and the domains' taps are gone from $NS"
else
  fail "vbr9 and the domains' taps are gone from $NS" "$(ip -n "$NS" -br link)"
fi
check "$NS itself is still there (the lab is lab.sh's to remove)" ns_exists "$NS"
check_exit "a second stop is a no-op" 0 bash "$LV_SH" stop
check_exit "exec after stop fails" 1 bash "$LV_SH" exec true
check_root_clean "still no libvirt trace in the root namespace"
if [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$root_forward_before" ]; then
  pass "the root namespace's ip_forward is unchanged ($root_forward_before)"
else
  fail "the root namespace's ip_forward is unchanged" "was $root_forward_before, now $(cat /proc/sys/net/ipv4/ip_forward)"
fi

note "total $(lv_elapsed "$T0")s"
finish
