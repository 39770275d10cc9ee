# shellcheck shell=bash
# Helpers of the lab tests of provider ovn (test_ovn.sh, test_ovn_vm.sh). Source after lib.sh and
# lab/ovn.sh; the test sets WORK_DIR and CONFIG, and kills SERVERS at its end.
#
#   vn ARGS...                   virtnat with the test's config and state, in the lab's central
#                                namespace (apply also installs virtnat's nftables table: there,
#                                never in the root namespace)
#   serve NODE NAME ARGS...      a vnpeer server in a lab node (lan, g-fleet-web1, ...)
#   connect NODE[/BIND] PROTO ADDR PORT [TIMEOUT_MS]   what vnpeer connect prints
#   virtnat_rows                 how many NB rows carry external_ids:virtnat=1
#   port_id HOST                 the logical port of a host of network fleet: the UUID that
#                                `vm interface` gives libvirt as interfaceid

SERVERS=()

vn() {
  ip netns exec "$(ovn_lab_ns central)" "$VIRTNAT" --config "$CONFIG" --state-dir "$WORK_DIR/state" "$@"
}

serve() {
  local node=$1 name=$2 log
  shift 2
  log="$WORK_DIR/serve-$node-$name-${#SERVERS[@]}.log"
  ip netns exec "$(ovn_lab_ns "$node")" "$VNPEER" serve --name "$name" "$@" >"$log" 2>&1 &
  SERVERS+=($!)
  for _ in $(seq 1 50); do
    grep_q "^ready " "$log" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "Bail out! vnpeer $name in $node did not start: $(cat "$log")"
  exit 1
}

connect() {
  local node=${1%%/*} bind=() timeout=${5:-1500}
  [[ "$1" == */* ]] && bind=(--bind "${1#*/}")
  ip netns exec "$(ovn_lab_ns "$node")" "$VNPEER" connect "--$2" "$3" "$4" \
    --timeout-ms "$timeout" "${bind[@]}" 2>&1
}

virtnat_rows() {
  local t n=0
  for t in Logical_Switch Logical_Switch_Port Logical_Router Logical_Router_Port Gateway_Chassis \
    NAT Logical_Router_Static_Route Load_Balancer ACL Address_Set DHCP_Options DNS; do
    n=$((n + $(ovn_lab_nbctl --bare --columns=_uuid find "$t" external_ids:virtnat=1 | grep -c .)))
  done
  echo "$n"
}

port_id() { vn vm interface fleet "$1" | sed -n "s/.*interfaceid='\([^']*\)'.*/\1/p"; }
