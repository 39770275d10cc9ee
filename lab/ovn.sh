#!/bin/bash
# virtnat OVN fleet lab: OVN central (NB + SB ovsdb-server, ovn-northd), three simulated
# hypervisors hv1 hv2 hv3 and a LAN, all in network namespaces and one run folder, with
# Debian 12's ovn-central, ovn-host and openvswitch-switch (OVS 3.1, OVN 23.03). Nothing
# runs in, or is added to, the root namespace: every link is created inside its namespace,
# every daemon runs inside one, and its sockets, databases, pid and log files live under
# $OVN_LAB_DIR.
#
#   bash lab/ovn.sh up       build the lab (removes an old one first); prints how long it took
#   bash lab/ovn.sh down     remove every namespace, process, tap and the run folder
#   bash lab/ovn.sh status   namespaces, daemons, chassis, ports
#   bash lab/ovn.sh nbctl ARGS...   ovn-nbctl against the lab's NB (also: sbctl, vsctl HV ...)
#   bash lab/ovn.sh exec NODE CMD... run CMD in a node: central ul lan hv1 hv2 hv3 g-NAME
#
# Sourced (source lab/ovn.sh), it only defines functions and settings:
#   ovn_lab_up / ovn_lab_down / ovn_lab_status
#   ovn_lab_nbctl ARGS / ovn_lab_sbctl ARGS / ovn_lab_vsctl HV ARGS / ovn_lab_exec NODE CMD
#   ovn_lab_guest HV NAME MAC [IP/LEN [GW]]  an OVS internal port with external_ids:iface-id=NAME
#       (or OVN_LAB_IFACE_IDS[NAME] when set: the logical port's name, which virtnat derives as
#       a UUID, the interfaceid of `virtnat vm interface`) on HV's br-int, moved into its own namespace
#       $P-g-NAME as interface NAME (vg + a hash if NAME is over 15 bytes), MTU 1400.
#       Without IP the interface is up without an address (for DHCP: ovn_lab_dhcp NAME).
#   ovn_lab_dhcp NAME [TIMEOUT_S]   busybox udhcpc on the guest; the lease goes to
#       $OVN_LAB_DIR/guests/NAME.lease as "ip=... mask=... router=... dns=... domain=... mtu=..."
#   ovn_lab_move_guest NAME HV_FROM HV_TO   unplug from HV_FROM, plug into HV_TO (same
#       namespace, MAC and address; processes in the guest namespace keep running)
#   ovn_lab_unplug_guest NAME      remove the port and the guest namespace
#   ovn_lab_stop_chassis HV [controller|kill|host|uplink]   controller (default): its
#       ovn-controller exits gracefully (ovn-appctl exit, as stopping the service does: the
#       chassis leaves SB); kill: SIGKILL to ovn-controller only (ovs-vswitchd keeps forwarding);
#       host: SIGKILL to ovn-controller and ovs-vswitchd (a crashed host: its taps and datapath
#       go away); uplink: its underlay and provider links go down, the daemons keep running.
#   ovn_lab_start_chassis HV       undo the stop (re-plugs HV's guests after "host")
#   ovn_lab_chassis_of PORT        the chassis a logical port is bound to (from SB)
#
# Settings: OVN_LAB_DIR (default /tmp/virtnat-ovn-lab), OVN_LAB_PREFIX (namespace prefix,
# default vnovn), OVN_LAB_NICE (default 10).
#
# Topology (namespaces are $P-NAME):
#
#   central: ovsdb-server NB (nb.sock), ovsdb-server SB (sb.sock), ovn-northd  (unix sockets only)
#
#   ul (bridge br0, the underlay 192.0.2.0/24)
#     |            |            |
#   hv1          hv2          hv3       each: ovsdb-server + ovs-vswitchd (datapath netdev) with
#   192.0.2.1    192.0.2.2    192.0.2.3   br-phy (eth-ul + the tunnel address), br-int, and
#   br-provider  br-provider              ovn-controller (system-id hvN, geneve over br-phy)
#     |            |
#   lan (bridge br0: 198.51.100.10, .11, .254/24; 203.0.113.1/32 beyond the gateway;
#        2001:db8:100::10, ::11, ::fe/64)
#
# hv1 and hv2 are gateway chassis: ovn-bridge-mappings=physnet1:br-provider.

OVN_LAB_DIR="${OVN_LAB_DIR:-/tmp/virtnat-ovn-lab}"
OVN_LAB_PREFIX="${OVN_LAB_PREFIX:-vnovn}"
OVN_LAB_NICE="${OVN_LAB_NICE:-10}"
OVN_LAB_HVS=(hv1 hv2 hv3)
OVN_LAB_GATEWAYS=(hv1 hv2)
OVN_LAB_MTU=1400 # guests' MTU: geneve adds 58 bytes on a 1500-byte underlay
OVN_LAB_MARKER=.virtnat-ovn-lab

_ovn_lab_grep_q() { grep "$@" >/dev/null; }
ovn_lab_ns() { echo "${OVN_LAB_PREFIX}-$1"; }
_ovn_lab_ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | _ovn_lab_grep_q -x -- "$1"; }
_ovn_lab_hv_index() { echo "${1#hv}"; }
_ovn_lab_now() { date +%s.%N; }
_ovn_lab_since() { awk -v a="$1" -v b="$(_ovn_lab_now)" 'BEGIN { printf "%.2f", b - a }'; }

# ovn_lab_exec NODE CMD...: CMD inside the node's namespace (central ul lan hv1.. g-NAME).
ovn_lab_exec() {
  local n
  n=$(ovn_lab_ns "$1")
  shift
  ip netns exec "$n" "$@"
}

ovn_lab_nbctl() { ovn-nbctl --db="unix:$OVN_LAB_DIR/central/nb.sock" "$@"; }
ovn_lab_sbctl() { ovn-sbctl --db="unix:$OVN_LAB_DIR/central/sb.sock" "$@"; }
ovn_lab_vsctl() {
  local hv=$1
  shift
  OVS_RUNDIR="$OVN_LAB_DIR/$hv" ovs-vsctl --db="unix:$OVN_LAB_DIR/$hv/db.sock" "$@"
}
# ovn_lab_appctl HV DAEMON CMD...: DAEMON is ovs-vswitchd or ovn-controller of HV.
ovn_lab_appctl() {
  local hv=$1 daemon=$2 pid
  shift 2
  pid=$(cat "$OVN_LAB_DIR/$hv/$daemon.pid" 2>/dev/null) || return 1
  case $daemon in
    ovn-controller) ovn-appctl -t "$OVN_LAB_DIR/$hv/ovn-controller.$pid.ctl" "$@" ;;
    *) ovs-appctl -t "$OVN_LAB_DIR/$hv/$daemon.ctl" "$@" ;;
  esac
}

# A daemon of the lab: NODE RUNDIR LOGNAME CMD... in the node's namespace, niced, with the OVS and OVN
# run, db and log folders pointed at RUNDIR (each hypervisor needs its own, or the
# ovn-controllers share one br-int.mgmt socket and --wait=hv never returns).
_ovn_lab_daemon() {
  local node=$1 dir=$2 log=$3
  shift 3
  OVS_RUNDIR="$dir" OVS_DBDIR="$dir" OVS_LOGDIR="$dir" OVS_SYSCONFDIR="$dir" \
    OVN_RUNDIR="$dir" OVN_DBDIR="$dir" OVN_LOGDIR="$dir" OVN_SYSCONFDIR="$dir" \
    ip netns exec "$(ovn_lab_ns "$node")" nice -n "$OVN_LAB_NICE" "$@" \
    --detach --no-chdir -vconsole:off "--log-file=$dir/$log.log"
}

# TX checksum offload off (TCP over the userspace datapath needs it on every veth end).
_ovn_lab_txoff() { ip netns exec "$1" ethtool -K "$2" tx off >/dev/null 2>&1; }

# _ovn_lab_veth NS1 IF1 NS2 IF2: a veth pair created directly in two namespaces, both ends
# up, TX checksum offload off.
_ovn_lab_veth() {
  ip -n "$1" link add "$2" type veth peer name "$4" netns "$3"
  ip -n "$1" link set "$2" up
  ip -n "$3" link set "$4" up
  _ovn_lab_txoff "$1" "$2"
  _ovn_lab_txoff "$3" "$4"
}

_ovn_lab_wait() { # TRIES(0.1 s each) COMMAND...
  local tries=$1
  shift
  while [ "$tries" -gt 0 ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
    tries=$((tries - 1))
  done
  return 1
}

_ovn_lab_pid_alive() { # PIDFILE
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# ------------------------------------------------------------------ central

_ovn_lab_start_central() {
  local c="$OVN_LAB_DIR/central"
  mkdir -p "$c"
  [ -f "$c/nb.db" ] || ovsdb-tool create "$c/nb.db" /usr/share/ovn/ovn-nb.ovsschema
  [ -f "$c/sb.db" ] || ovsdb-tool create "$c/sb.db" /usr/share/ovn/ovn-sb.ovsschema
  _ovn_lab_daemon central "$c" nb ovsdb-server "$c/nb.db" "--remote=punix:$c/nb.sock" \
    "--pidfile=$c/nb.pid" "--unixctl=$c/nb.ctl"
  _ovn_lab_daemon central "$c" sb ovsdb-server "$c/sb.db" "--remote=punix:$c/sb.sock" \
    "--pidfile=$c/sb.pid" "--unixctl=$c/sb.ctl"
  ovn_lab_nbctl --no-wait init
  ovn_lab_sbctl init
  _ovn_lab_daemon central "$c" ovn-northd ovn-northd "--ovnnb-db=unix:$c/nb.sock" \
    "--ovnsb-db=unix:$c/sb.sock" "--pidfile=$c/ovn-northd.pid" "--unixctl=$c/ovn-northd.ctl"
}

# ------------------------------------------------------------------ hypervisors

_ovn_lab_start_vswitchd() { # HV
  local hv=$1 h="$OVN_LAB_DIR/$1"
  _ovn_lab_daemon "$hv" "$h" ovs-vswitchd ovs-vswitchd "unix:$h/db.sock" "--pidfile=$h/ovs-vswitchd.pid" \
    "--unixctl=$h/ovs-vswitchd.ctl"
}

_ovn_lab_start_controller() { # HV
  local hv=$1 h="$OVN_LAB_DIR/$1"
  # ovn-controller has no --unixctl: its control socket is $OVN_RUNDIR/ovn-controller.PID.ctl.
  _ovn_lab_daemon "$hv" "$h" ovn-controller ovn-controller "unix:$h/db.sock" "--pidfile=$h/ovn-controller.pid"
}

# The tunnel address sits on br-phy itself (userspace tunnelling routes through an OVS bridge).
_ovn_lab_phy_address() { # HV
  local hv=$1 ns
  ns=$(ovn_lab_ns "$hv")
  _ovn_lab_wait 50 ip -n "$ns" link show br-phy || return 1
  ip -n "$ns" addr replace "192.0.2.$(_ovn_lab_hv_index "$hv")/24" dev br-phy
  ip -n "$ns" link set br-phy up
  if ip -n "$ns" link show br-provider >/dev/null 2>&1; then ip -n "$ns" link set br-provider up; fi
}

_ovn_lab_start_hv() { # HV
  local hv=$1 h="$OVN_LAB_DIR/$1" ns i gw=0 g
  ns=$(ovn_lab_ns "$hv")
  i=$(_ovn_lab_hv_index "$hv")
  for g in "${OVN_LAB_GATEWAYS[@]}"; do [ "$g" = "$hv" ] && gw=1; done
  mkdir -p "$h"
  ovsdb-tool create "$h/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  _ovn_lab_daemon "$hv" "$h" ovsdb-server ovsdb-server "$h/conf.db" "--remote=punix:$h/db.sock" \
    "--pidfile=$h/ovsdb-server.pid" "--unixctl=$h/ovsdb-server.ctl"
  ovn_lab_vsctl "$hv" --no-wait init
  _ovn_lab_start_vswitchd "$hv"

  # Underlay: eth-ul in hvN, its peer hvN on the underlay bridge.
  _ovn_lab_veth "$ns" eth-ul "$(ovn_lab_ns ul)" "$hv"
  ip -n "$(ovn_lab_ns ul)" link set "$hv" master br0
  local -a ext=(
    "external_ids:system-id=$hv" "external_ids:hostname=$hv"
    "external_ids:ovn-remote=unix:$OVN_LAB_DIR/central/sb.sock"
    external_ids:ovn-encap-type=geneve "external_ids:ovn-encap-ip=192.0.2.$i"
    external_ids:ovn-bridge-datapath-type=netdev
  )
  if [ $gw = 1 ]; then
    ext+=(external_ids:ovn-bridge-mappings=physnet1:br-provider
      external_ids:ovn-cms-options=enable-chassis-as-gw)
  fi
  ovn_lab_vsctl "$hv" set Open_vSwitch . "${ext[@]}" \
    -- add-br br-phy -- set Bridge br-phy datapath_type=netdev \
    -- add-port br-phy eth-ul
  if [ $gw = 1 ]; then
    _ovn_lab_veth "$ns" eth-lan "$(ovn_lab_ns lan)" "$hv"
    ip -n "$(ovn_lab_ns lan)" link set "$hv" master br0
    ovn_lab_vsctl "$hv" add-br br-provider -- set Bridge br-provider datapath_type=netdev \
      -- add-port br-provider eth-lan
  fi
  _ovn_lab_phy_address "$hv"
  _ovn_lab_start_controller "$hv"
}

_ovn_lab_start_lan() {
  local L
  L=$(ovn_lab_ns lan)
  ip -n "$L" link add br0 type bridge
  ip -n "$L" link set br0 up
  _ovn_lab_txoff "$L" br0
  ip -n "$L" addr add 198.51.100.10/24 dev br0 # the LAN client
  ip -n "$L" addr add 198.51.100.11/24 dev br0 # another client (outside allowlists)
  ip -n "$L" addr add 198.51.100.254/24 dev br0 # the provider network's gateway
  ip -n "$L" addr add 203.0.113.1/32 dev lo     # "the internet", beyond that gateway
  # The same in IPv6 (nodad: usable at once): 2001:db8:100::10 and ::11, gateway ::fe.
  ip -n "$L" -6 addr add 2001:db8:100::10/64 dev br0 nodad
  ip -n "$L" -6 addr add 2001:db8:100::11/64 dev br0 nodad
  ip -n "$L" -6 addr add 2001:db8:100::fe/64 dev br0 nodad
  # A LAN client's ARP (and neighbour solicitation) retry delays the first contact by about
  # 1 s: retry sooner.
  ip netns exec "$L" sysctl -q -w net.ipv4.neigh.br0.retrans_time_ms=100
  ip netns exec "$L" sysctl -q -w net.ipv6.neigh.br0.retrans_time_ms=100
}

_ovn_lab_chassis_ready() {
  local names
  names=$(ovn_lab_sbctl --bare --columns=name list Chassis 2>/dev/null | grep -v '^$' | sort | tr '\n' ' ')
  [ "$names" = "hv1 hv2 hv3 " ]
}

_ovn_lab_br_int_ready() {
  local hv
  for hv in "${OVN_LAB_HVS[@]}"; do
    ip -n "$(ovn_lab_ns "$hv")" link show br-int >/dev/null 2>&1 || return 1
  done
}

ovn_lab_up() {
  [ "$(id -u)" -eq 0 ] || { echo "ovn.sh: must run as root" >&2; return 1; }
  [[ "$OVN_LAB_PREFIX" =~ ^[A-Za-z0-9_.-]{1,12}$ ]] || {
    echo "ovn.sh: OVN_LAB_PREFIX: 1-12 letters, digits, '.', '_', '-'" >&2
    return 1
  }
  local bin
  for bin in ovsdb-server ovsdb-tool ovs-vswitchd ovs-vsctl ovn-northd ovn-controller ovn-nbctl \
    ovn-sbctl ethtool busybox; do
    command -v "$bin" >/dev/null || {
      echo "ovn.sh: $bin is missing (scripts/install-deps)" >&2
      return 1
    }
  done
  ovn_lab_down >/dev/null 2>&1
  local t0
  t0=$(_ovn_lab_now)
  local saved_e=+e rc=0
  [[ $- == *e* ]] && saved_e=-e
  set +e
  (
    set -e
    mkdir -p "$OVN_LAB_DIR/guests"
    touch "$OVN_LAB_DIR/$OVN_LAB_MARKER"
    local node
    for node in central ul lan "${OVN_LAB_HVS[@]}"; do
      ip netns add "$(ovn_lab_ns "$node")"
      ip -n "$(ovn_lab_ns "$node")" link set lo up
    done
    ip -n "$(ovn_lab_ns ul)" link add br0 type bridge
    ip -n "$(ovn_lab_ns ul)" link set br0 up
    _ovn_lab_start_lan
    _ovn_lab_start_central
    local hv
    for hv in "${OVN_LAB_HVS[@]}"; do _ovn_lab_start_hv "$hv"; done
    _ovn_lab_wait 300 _ovn_lab_chassis_ready || { echo "ovn.sh: chassis did not register" >&2; false; }
    _ovn_lab_wait 300 _ovn_lab_br_int_ready || { echo "ovn.sh: no br-int" >&2; false; }
    ovn_lab_nbctl --wait=hv --timeout=30 sync
  )
  rc=$?
  set "$saved_e"
  if [ $rc -ne 0 ]; then
    echo "ovn.sh: set-up failed, removing the half-built lab (logs were in $OVN_LAB_DIR)" >&2
    tail -n 5 "$OVN_LAB_DIR"/*/*.log 2>/dev/null >&2
    ovn_lab_down >/dev/null 2>&1
    return 1
  fi
  _ovn_lab_since "$t0" >"$OVN_LAB_DIR/up.seconds"
  echo "ovn lab up in $(cat "$OVN_LAB_DIR/up.seconds") s (run folder $OVN_LAB_DIR, namespaces $OVN_LAB_PREFIX-*)"
}

# ------------------------------------------------------------------ guests

declare -gA OVN_LAB_IFACE_IDS 2>/dev/null || true
_ovn_lab_guest_file() { echo "$OVN_LAB_DIR/guests/$1"; }
# The guest's interface (and OVS port) name: NAME itself, or vg + a hash when NAME (a logical
# port name such as NETWORK-HOST) is longer than an interface name may be.
_ovn_lab_ifname() {
  if [ ${#1} -le 15 ]; then echo "$1"; else echo "vg$(echo -n "$1" | md5sum | cut -c1-12)"; fi
}

# _ovn_lab_plug HV NAME MAC: the internal port on HV's br-int, moved into $P-g-NAME.
_ovn_lab_plug() {
  local hv=$1 iface_id=$2 mac=$3 hns gns name
  name=$(_ovn_lab_ifname "$iface_id")
  hns=$(ovn_lab_ns "$hv")
  gns=$(ovn_lab_ns "g-$iface_id")
  ovn_lab_vsctl "$hv" -- --may-exist add-port br-int "$name" \
    -- set Interface "$name" type=internal "mtu_request=$OVN_LAB_MTU" \
    "external_ids:iface-id=${OVN_LAB_IFACE_IDS[$iface_id]:-$iface_id}" external_ids:virtnat-lab=1 || return 1
  _ovn_lab_wait 50 ip -n "$hns" link show dev "$name" || {
    echo "ovn.sh: port $name did not appear on $hv" >&2
    return 1
  }
  # A crashed ovs-vswitchd leaves its taps behind (they are persistent): drop the old one.
  ip -n "$gns" link del dev "$name" 2>/dev/null
  ip -n "$hns" link set dev "$name" netns "$gns" || return 1
  ip -n "$gns" link set dev "$name" address "$mac" mtu "$OVN_LAB_MTU" up
  ip netns exec "$gns" sysctl -q -w "net.ipv4.neigh.$name.retrans_time_ms=100"
}

_ovn_lab_address() { # NAME: the address and route of its record
  local gns hv mac ip gw name
  gns=$(ovn_lab_ns "g-$1")
  name=$(_ovn_lab_ifname "$1")
  read -r hv mac ip gw <"$(_ovn_lab_guest_file "$1")"
  [ "$ip" = - ] && return 0
  ip -n "$gns" addr replace "$ip" dev "$name"
  if [ "$gw" != - ]; then ip -n "$gns" route replace default via "$gw" dev "$name"; fi
}

ovn_lab_guest() { # HV NAME MAC [IP/LEN [GW]]
  if [ $# -lt 3 ]; then
    echo "usage: ovn_lab_guest HV NAME MAC [IP/LEN [GW]]" >&2
    return 2
  fi
  local hv=$1 name=$2 mac=$3 ip=${4:--} gw=${5:--} gns
  [[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$ ]] || { echo "ovn.sh: bad guest name $name" >&2; return 2; }
  [ "$ip" = - ] || [[ "$ip" == */* ]] || ip="$ip/24"
  gns=$(ovn_lab_ns "g-$name")
  if ! _ovn_lab_ns_exists "$gns"; then
    ip netns add "$gns"
    ip -n "$gns" link set lo up
    # No duplicate-address detection for the port's IPv6 link-local address: on the
    # userspace datapath's tap it can stay tentative for long, and DHCPv6 needs it.
    # Router solicitations go on (backing off) as a real guest's network manager does,
    # rather than the kernel's three: a port plugged before its network is defined still
    # gets its router advertisement promptly once it is.
    ip netns exec "$gns" sysctl -q -w net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0 \
      net.ipv6.conf.default.router_solicitations=-1 net.ipv6.conf.default.router_solicitation_max_interval=8
  fi
  echo "$hv $mac $ip $gw" >"$(_ovn_lab_guest_file "$name")"
  _ovn_lab_plug "$hv" "$name" "$mac" && _ovn_lab_address "$name"
}

# ovn_lab_dhcp NAME [TIMEOUT_S]: busybox udhcpc (our own script: nothing outside the guest's
# namespace and the run folder is changed); prints the lease line, records the address.
ovn_lab_dhcp() {
  local name=$1 timeout=${2:-5} gns lease script hv mac ip gw
  gns=$(ovn_lab_ns "g-$name")
  lease="$OVN_LAB_DIR/guests/$name.lease"
  script="$OVN_LAB_DIR/udhcpc.script"
  cat >"$script" <<'EOF'
#!/bin/sh
# udhcpc hook for the OVN lab: sets the address in the guest namespace, writes the lease file.
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound | renew)
    ip -4 addr flush dev "$interface"  # IPv4 only: the link-local IPv6 address stays (DHCPv6)
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
    echo "ip=$ip mask=$mask router=$router dns=$dns domain=$domain mtu=$mtu lease=$lease serverid=$serverid" >"$VN_LEASE_FILE"
    ;;
esac
exit 0
EOF
  chmod +x "$script"
  rm -f "$lease"
  ip netns exec "$gns" env VN_LEASE_FILE="$lease" busybox udhcpc -i "$(_ovn_lab_ifname "$name")" \
    -s "$script" -O mtu -q -n -f -t "$timeout" -T 1 -A 1 >/dev/null 2>&1 || return 1
  [ -s "$lease" ] || return 1
  cat "$lease"
  read -r hv mac ip gw <"$(_ovn_lab_guest_file "$name")"
  local lip lmask lrouter
  lip=$(sed -n 's/.*\bip=\([^ ]*\).*/\1/p' "$lease")
  lmask=$(sed -n 's/.*\bmask=\([^ ]*\).*/\1/p' "$lease")
  lrouter=$(sed -n 's/.*\brouter=\([^ ]*\).*/\1/p' "$lease")
  echo "$hv $mac $lip/$lmask ${lrouter:--}" >"$(_ovn_lab_guest_file "$name")"
}

ovn_lab_unplug_guest() { # NAME
  local name=$1 hv mac ip gw f
  f=$(_ovn_lab_guest_file "$name")
  if [ -f "$f" ]; then
    read -r hv mac ip gw <"$f"
    ovn_lab_vsctl "$hv" --if-exists del-port br-int "$(_ovn_lab_ifname "$name")" 2>/dev/null
    rm -f "$f" "$f.lease"
  fi
  _ovn_lab_delete_ns "$(ovn_lab_ns "g-$name")"
}

ovn_lab_move_guest() { # NAME HV_FROM HV_TO
  local name=$1 from=$2 to=$3 hv mac ip gw gns ifname
  read -r hv mac ip gw <"$(_ovn_lab_guest_file "$name")" || return 1
  [ "$hv" = "$from" ] || { echo "ovn.sh: $name is on $hv, not $from" >&2; return 1; }
  gns=$(ovn_lab_ns "g-$name")
  ifname=$(_ovn_lab_ifname "$name")
  ovn_lab_vsctl "$from" --if-exists del-port br-int "$ifname" || return 1
  # The tap goes with the port; a leftover (persistent tap) is removed by name.
  _ovn_lab_wait 20 bash -c "! ip -n '$gns' link show dev '$ifname'" ||
    ip -n "$gns" link del dev "$ifname" 2>/dev/null
  echo "$to $mac $ip $gw" >"$(_ovn_lab_guest_file "$name")"
  _ovn_lab_plug "$to" "$name" "$mac" && _ovn_lab_address "$name"
}

# ovn_lab_chassis_of PORT: the chassis name the logical port is bound to (empty if none).
ovn_lab_chassis_of() {
  local uuid
  uuid=$(ovn_lab_sbctl --bare --columns=chassis find Port_Binding "logical_port=\"$1\"")
  [ -n "$uuid" ] && ovn_lab_sbctl --bare --columns=name list Chassis "$uuid"
}

# ------------------------------------------------------------------ failures

ovn_lab_stop_chassis() { # HV [controller|kill|host|uplink]
  local hv=$1 mode=${2:-controller} h="$OVN_LAB_DIR/$1" ns pid pids=()
  ns=$(ovn_lab_ns "$hv")
  case $mode in
    controller) # what stopping the service does (ovn-ctl stop_controller): a graceful exit
      pid=$(cat "$h/ovn-controller.pid" 2>/dev/null) || return 1
      ovn_lab_appctl "$hv" ovn-controller exit >/dev/null 2>&1 || kill "$pid" 2>/dev/null
      pids=("$pid")
      ;;
    kill) # ovn-controller crashes; ovs-vswitchd keeps its flows and BFD sessions
      pid=$(cat "$h/ovn-controller.pid" 2>/dev/null) && kill -9 "$pid" 2>/dev/null
      pids=("$pid")
      ;;
    host) # the host crashes: ovn-controller and ovs-vswitchd die, the datapath with them
      for pid in $(cat "$h/ovn-controller.pid" "$h/ovs-vswitchd.pid" 2>/dev/null); do
        kill -9 "$pid" 2>/dev/null
        pids+=("$pid")
      done
      ;;
    uplink) # the host's links to the underlay and the LAN go down; its daemons keep running
      ip -n "$ns" link set eth-ul down
      if ip -n "$ns" link show eth-lan >/dev/null 2>&1; then ip -n "$ns" link set eth-lan down; fi
      ;;
    *)
      echo "usage: ovn_lab_stop_chassis HV [controller|kill|host|uplink]" >&2
      return 2
      ;;
  esac
  for pid in "${pids[@]}"; do _ovn_lab_wait 50 bash -c "! kill -0 $pid 2>/dev/null"; done
  echo "$mode" >>"$h/stopped"
}

ovn_lab_start_chassis() { # HV
  local hv=$1 h="$OVN_LAB_DIR/$1" ns f name ghv mac ip gw
  ns=$(ovn_lab_ns "$hv")
  ip -n "$ns" link set eth-ul up
  if ip -n "$ns" link show eth-lan >/dev/null 2>&1; then ip -n "$ns" link set eth-lan up; fi
  if ! _ovn_lab_pid_alive "$h/ovs-vswitchd.pid"; then
    rm -f "$h"/ovs-vswitchd.pid "$h"/ovs-vswitchd.ctl
    _ovn_lab_start_vswitchd "$hv" || return 1
    _ovn_lab_phy_address "$hv" || return 1
    # The crashed datapath took the guests' taps with it: plug them again.
    for f in "$OVN_LAB_DIR"/guests/*; do
      [ -f "$f" ] && [[ "$f" != *.lease ]] || continue
      read -r ghv mac ip gw <"$f"
      [ "$ghv" = "$hv" ] || continue
      name=$(basename "$f")
      ovn_lab_vsctl "$hv" --if-exists del-port br-int "$(_ovn_lab_ifname "$name")"
      _ovn_lab_plug "$hv" "$name" "$mac" && _ovn_lab_address "$name"
    done
  fi
  if ! _ovn_lab_pid_alive "$h/ovn-controller.pid"; then
    rm -f "$h"/ovn-controller.pid
    _ovn_lab_start_controller "$hv" || return 1
  fi
  rm -f "$h/stopped"
}

# ------------------------------------------------------------------ down and status

_ovn_lab_delete_ns() { # NS: ends its processes, deletes the lab's taps in it by name, deletes it
  local n=$1 pid i dev
  _ovn_lab_ns_exists "$n" || return 0
  for pid in $(ip netns pids "$n" 2>/dev/null); do kill "$pid" 2>/dev/null; done
  for i in $(seq 1 30); do
    [ -z "$(ip netns pids "$n" 2>/dev/null)" ] && break
    sleep 0.1
  done
  for pid in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
  for dev in br-int br-phy br-provider ovs-netdev eth-ul eth-lan; do
    ip -n "$n" link del "$dev" 2>/dev/null
  done
  ip netns del "$n" 2>/dev/null
}

_ovn_lab_namespaces() { # every namespace of this lab, guests first
  ip netns list 2>/dev/null | awk '{print $1}' |
    grep -E "^${OVN_LAB_PREFIX//./\\.}-g-" || true
  local node
  for node in "${OVN_LAB_HVS[@]}" lan ul central; do
    _ovn_lab_ns_exists "$(ovn_lab_ns "$node")" && ovn_lab_ns "$node"
  done
  return 0
}

ovn_lab_down() {
  local f pid n
  # Daemons by their pid files (only if the pid still runs an OVS/OVN program of this lab).
  for f in "$OVN_LAB_DIR"/*/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null)
    [ -n "$pid" ] || continue
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | _ovn_lab_grep_q -F "$OVN_LAB_DIR/"; then
      kill "$pid" 2>/dev/null
    fi
  done
  for n in $(_ovn_lab_namespaces); do _ovn_lab_delete_ns "$n"; done
  if [ -d "$OVN_LAB_DIR" ]; then
    if [ -f "$OVN_LAB_DIR/$OVN_LAB_MARKER" ]; then
      rm -rf "$OVN_LAB_DIR"
    else
      echo "ovn.sh: $OVN_LAB_DIR is not a lab run folder; left alone" >&2
    fi
  fi
  # The lab never creates links in the root namespace; say so if one of its names shows up.
  for n in br-int br-phy br-provider ovs-netdev; do
    if ip link show "$n" >/dev/null 2>&1; then
      echo "ovn.sh: warning: a link $n exists in the root namespace (not removed: not made here)" >&2
    fi
  done
  return 0
}

ovn_lab_status() {
  local hv n d
  echo "run folder: $OVN_LAB_DIR$([ -f "$OVN_LAB_DIR/up.seconds" ] && echo " (up took $(cat "$OVN_LAB_DIR/up.seconds") s)")"
  echo "namespaces: $(_ovn_lab_namespaces | tr '\n' ' ')"
  for d in "$OVN_LAB_DIR"/*/*.pid; do
    [ -f "$d" ] || continue
    n=${d#"$OVN_LAB_DIR"/}
    if _ovn_lab_pid_alive "$d"; then echo "  running: ${n%.pid}"; else echo "  DEAD:    ${n%.pid}"; fi
  done
  [ -S "$OVN_LAB_DIR/central/sb.sock" ] || return 0
  echo "chassis (SB):"
  ovn_lab_sbctl --columns=name,nb_cfg --format=table list Chassis_Private 2>&1 | sed 's/^/  /'
  echo "port bindings (SB):"
  ovn_lab_sbctl --columns=logical_port,type,chassis,up --format=table list Port_Binding 2>&1 |
    sed 's/^/  /'
  for hv in "${OVN_LAB_HVS[@]}"; do
    echo "$hv: bfd $(ovn_lab_appctl "$hv" ovs-vswitchd bfd/show 2>/dev/null | grep -c 'Local Session State: up') up"
  done
}

# ------------------------------------------------------------------ command line

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -uo pipefail
  case "${1:-}" in
    up) ovn_lab_up ;;
    down) ovn_lab_down ;;
    status) ovn_lab_status ;;
    nbctl) shift; ovn_lab_nbctl "$@" ;;
    sbctl) shift; ovn_lab_sbctl "$@" ;;
    vsctl) shift; ovn_lab_vsctl "$@" ;;
    exec) shift; ovn_lab_exec "$@" ;;
    *)
      echo "usage: $0 up|down|status|nbctl ARGS|sbctl ARGS|vsctl HV ARGS|exec NODE CMD..." >&2
      exit 2
      ;;
  esac
fi
