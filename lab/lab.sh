#!/bin/bash
# virtnat namespace lab: a KVM host, two guests and a LAN with two clients, all in
# network namespaces. Nothing outside these namespaces is touched: every link is
# created directly inside its namespace, and sysctls are set inside the host namespace only.
#
#   lab/lab.sh up        build the lab (removes an old one with the same prefix first)
#   lab/lab.sh down      remove it (idempotent; also ends processes left in its namespaces)
#   lab/lab.sh exec NODE CMD...   run CMD in a node: host g1 g2 lan c1 c2 (or a full namespace name)
#   lab/lab.sh status    show the namespaces and addresses
#
# LAB_PREFIX (default vnlab) prefixes every namespace, so several labs can coexist.
# LAB_BR_NETFILTER=0|1 pins net.bridge.bridge-nf-call-* inside the host namespace
# (only when the br_netfilter module is loaded; nothing is loaded or changed outside).
#
#   ${P}-c1 198.51.100.10 ---+
#                            |  ${P}-lan (bridge br0)
#   ${P}-c2 198.51.100.20 ---+
#                            |
#                 uplink 198.51.100.1/24 (+ 198.51.100.2/24)
#                  ${P}-host  (ip_forward=1; the firewall under test lives here)
#                 nbr0 10.1.1.1/24 (bridge)
#                    |                 |
#   ${P}-g1 10.1.1.28 (02:ff:0a:0a:06:1c)   ${P}-g2 10.1.1.29 (02:ff:0a:0a:06:1d)
set -euo pipefail
# grep_q: "grep -q" that reads all its input. With pipefail, grep -q exiting at the first match
# can kill the writer with SIGPIPE and fail a pipeline whose answer was yes.
grep_q() { grep "$@" >/dev/null; }

P="${LAB_PREFIX:-vnlab}"
NODES=(host g1 g2 lan c1 c2)

ns() { echo "${P}-$1"; }

die() {
  echo "lab.sh: $*" >&2
  exit 1
}

ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep_q -x -- "$1"; }

# A veth pair whose ends are created directly in two namespaces.
veth() { # NS1 IF1 NS2 IF2
  ip -n "$1" link add "$2" type veth peer name "$4" netns "$3"
}

lab_down() {
  local node name pid
  for node in "${NODES[@]}"; do
    name=$(ns "$node")
    ns_exists "$name" || continue
    # End only the processes running inside this lab's own namespaces (test servers).
    for pid in $(ip netns pids "$name" 2>/dev/null); do
      kill "$pid" 2>/dev/null || true
    done
  done
  for node in "${NODES[@]}"; do
    name=$(ns "$node")
    if ns_exists "$name"; then
      ip netns del "$name" 2>/dev/null || true
    fi
  done
}

lab_up() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces)"
  [[ "$P" =~ ^[A-Za-z0-9_.-]+$ ]] || die "LAB_PREFIX may hold only letters, digits, '.', '_' and '-'"
  lab_down
  trap 'echo "lab.sh: set-up failed, removing the half-built lab" >&2; lab_down' ERR

  local node
  for node in "${NODES[@]}"; do
    ip netns add "$(ns "$node")"
    ip -n "$(ns "$node")" link set lo up
  done
  local H G1 G2 L C1 C2
  H=$(ns host) G1=$(ns g1) G2=$(ns g2) L=$(ns lan) C1=$(ns c1) C2=$(ns c2)

  # The KVM host: the guests' bridge nbr0 and the uplink to the LAN.
  ip -n "$H" link add nbr0 type bridge
  ip -n "$H" link set nbr0 up
  ip -n "$H" addr add 10.1.1.1/24 dev nbr0
  ip netns exec "$H" sysctl -q -w net.ipv4.ip_forward=1
  # Bridged frames pass the inet hooks when br_netfilter is loaded (a per-namespace
  # switch). LAB_BR_NETFILTER=0|1 pins it inside the host namespace; unset keeps the
  # kernel's default for new namespaces.
  if [ -n "${LAB_BR_NETFILTER:-}" ] && ip netns exec "$H" test -e /proc/sys/net/bridge/bridge-nf-call-iptables; then
    local knob
    for knob in iptables ip6tables arptables; do
      ip netns exec "$H" sysctl -q -w "net.bridge.bridge-nf-call-$knob=$LAB_BR_NETFILTER"
    done
  fi

  # Guests: eth0 in the guest, its peer enslaved to nbr0 in the host.
  veth "$G1" eth0 "$H" vg1
  veth "$G2" eth0 "$H" vg2
  ip -n "$G1" link set eth0 address 02:ff:0a:0a:06:1c
  ip -n "$G2" link set eth0 address 02:ff:0a:0a:06:1d
  local g addr
  for g in g1 g2; do
    case $g in g1) addr=10.1.1.28 ;; g2) addr=10.1.1.29 ;; esac
    ip -n "$H" link set "v$g" master nbr0
    ip -n "$H" link set "v$g" up
    ip -n "$(ns $g)" addr add "$addr/24" dev eth0
    ip -n "$(ns $g)" link set eth0 up
    ip -n "$(ns $g)" route add default via 10.1.1.1
  done

  # The LAN: a bridge in its own namespace joining the host's uplink and the clients.
  ip -n "$L" link add br0 type bridge
  ip -n "$L" link set br0 up
  veth "$H" uplink "$L" vhost
  veth "$C1" eth0 "$L" vc1
  veth "$C2" eth0 "$L" vc2
  local port
  for port in vhost vc1 vc2; do
    ip -n "$L" link set "$port" master br0
    ip -n "$L" link set "$port" up
  done
  ip -n "$H" addr add 198.51.100.1/24 dev uplink
  ip -n "$H" addr add 198.51.100.2/24 dev uplink # secondary: forwards must not answer here
  ip -n "$H" link set uplink up
  ip -n "$C1" addr add 198.51.100.10/24 dev eth0
  ip -n "$C2" addr add 198.51.100.20/24 dev eth0
  ip -n "$C1" link set eth0 up
  ip -n "$C2" link set eth0 up

  # Wait until every link is up and no IPv6 duplicate-address detection is pending.

  for _ in $(seq 1 50); do
    if ip -n "$H" -br link show vg1 | grep_q UP && ip -n "$L" -br link show vc2 | grep_q UP; then
      break
    fi
    sleep 0.1
  done
  trap - ERR
  echo "lab.sh: lab '$P' is up: $(printf '%s ' "${NODES[@]/#/$P-}")"
}

lab_status() {
  local node name
  for node in "${NODES[@]}"; do
    name=$(ns "$node")
    if ns_exists "$name"; then
      echo "== $name"
      ip -n "$name" -br addr show | grep -v '^lo '
      if [ "$node" = host ]; then
        echo "br_netfilter (bridge-nf-call-iptables): $(ip netns exec "$name" cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || echo 'not loaded')"
      fi
    else
      echo "== $name (absent)"
    fi
  done
}

lab_exec() {
  [ $# -ge 2 ] || die "usage: lab.sh exec NODE COMMAND..."
  local target=$1
  shift
  case " ${NODES[*]} " in *" $target "*) target=$(ns "$target") ;; esac
  ns_exists "$target" || die "no namespace $target (is the lab up? LAB_PREFIX=$P)"
  exec ip netns exec "$target" "$@"
}

case "${1:-}" in
  up) lab_up ;;
  down) lab_down ;;
  exec)
    shift
    lab_exec "$@"
    ;;
  status) lab_status ;;
  *)
    echo "usage: lab.sh up|down|status|exec NODE COMMAND...   (LAB_PREFIX=$P)" >&2
    exit 2
    ;;
esac
