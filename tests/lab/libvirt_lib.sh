# shellcheck shell=bash
# Helpers for lab tests with a REAL libvirtd, isolated by lab/libvirt.sh inside the lab's
# host namespace (its own mount namespace: private /etc/libvirt, /var/lib/libvirt,
# /run/libvirt, /run/virtnat, /etc/virtnat). Source it after lib.sh:
#
#   source "$(dirname "$0")/lib.sh" "$1"
#   source "$(dirname "$0")/libvirt_lib.sh"
#   lab_start                     # lib.sh: lab up (needs virtnat + vnpeer built)
#   lv_start                      # libvirtd inside ${LAB_PREFIX}-host; the EXIT trap now
#                                 # stops libvirt first, then removes the lab
#   lv_virsh net-define "$xml"    # virsh -c qemu:///system inside the lab
#   lv_exec "$VIRTNAT" --config "$CONFIG" apply     # any command inside the lab
#   lv_define_domain lxdev01 02:ff:0a:0a:06:1c network:nat_bridge
#   lv_virsh start lxdev01; lv_wait_domain_state lxdev01 running
#   lv_restart                    # libvirtd restart; domains keep running
#   finish
#
# A test that needs no virtnat binary can call lv_lab_up instead of lab_start.
#
# Paths: lv_hooks_dir is libvirt's hooks folder seen from OUTSIDE (write hooks there, then
# lv_restart; libvirt reads the hooks at start); inside the lab it is /etc/libvirt/hooks
# (lv_hooks_dir_inside). libvirt runs hooks with a cleared environment, so a virtnat hook
# uses /etc/virtnat/virtnat.toml and /run/virtnat: inside the lab both are private
# (lv_bind CONF_DIR /etc/virtnat puts a test's config there; run the CLI inside with
# lv_exec and without VIRTNAT_STATE_DIR so that it shares /run/virtnat with the hook).
# /tmp is shared with the lab, so files under $LV_WORK are visible on both sides.

LV_TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LV_REPO_DIR=$(cd "$LV_TESTS_DIR/../.." && pwd)
LV_SH="$LV_REPO_DIR/lab/libvirt.sh"
LV_LAB_SH="$LV_REPO_DIR/lab/lab.sh"
LV_URI="qemu:///system"

export LAB_PREFIX="${LAB_PREFIX:-vnt$$}"
LV_NS=""        # network namespace libvirtd runs in
LV_STATE=""     # lab/libvirt.sh's state folder (outside path)
LV_HOLDER=""    # pid of the mount namespace holder (nsenter target)
LV_WORK=""      # a temp folder for the test (XML files, hook logs); under /tmp
LV_OWN_LAB=0    # 1 when lv_lab_up built the lab (so lv_cleanup removes it)
LV_START_SECONDS=""
LV_GUESTS=()    # guest namespaces made by lv_plug_guest

lv_note() { echo "# $*"; }

# lv_bail MESSAGE [FILE]: "Bail out!" with FILE's content as detail, then exit 1.
lv_bail() {
  echo "Bail out! $1"
  if [ -n "${2:-}" ] && [ -f "$2" ]; then sed 's/^/# /' "$2"; fi
  echo "0 passed, 1 failed"
  exit 1
}

# lv_require_root_and_tools: skip (77) when not root; bail out when a tool is missing.
lv_require_root_and_tools() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "# libvirt lab tests need root (namespaces); skipped"
    exit 77
  fi
  local bin
  for bin in libvirtd virtlogd virsh qemu-system-x86_64 dnsmasq iptables nsenter unshare; do
    command -v "$bin" >/dev/null 2>&1 || lv_bail "$bin is missing (run scripts/install-deps)"
  done
}

lv_make_work() {
  [ -n "$LV_WORK" ] && return 0
  LV_WORK=$(mktemp -d "/tmp/virtnat-lv.XXXXXX")
  chmod 0755 "$LV_WORK"
}

# lv_lab_up: lab.sh up on its own (for tests that need no virtnat binary), with cleanup.
lv_lab_up() {
  lv_require_root_and_tools
  lv_make_work
  LV_OWN_LAB=1
  trap lv_cleanup EXIT
  trap 'exit 130' INT TERM
  bash "$LV_LAB_SH" up >"$LV_WORK/lab-up.log" 2>&1 || lv_bail "lab.sh up failed:" "$LV_WORK/lab-up.log"
  lv_note "lab $LAB_PREFIX is up"
}

# lv_start [NETNS]: libvirtd inside NETNS (default ${LAB_PREFIX}-host); installs the
# cleanup trap (libvirt stop, then the lab's own cleanup).
lv_start() {
  lv_require_root_and_tools
  lv_make_work
  LV_NS=${1:-$LAB_PREFIX-host}
  trap lv_cleanup EXIT
  trap 'exit 130' INT TERM
  local t0=$EPOCHREALTIME
  if ! bash "$LV_SH" start "$LV_NS" >"$LV_WORK/libvirt-start.log" 2>&1; then
    lv_bail "lab/libvirt.sh start $LV_NS failed:" "$LV_WORK/libvirt-start.log"
  fi
  LV_START_SECONDS=$(lv_elapsed "$t0")
  LV_STATE=$(bash "$LV_SH" state-dir)
  LV_HOLDER=$(cat "$LV_STATE/holder.pid")
  lv_note "libvirtd is up in $LV_NS after ${LV_START_SECONDS}s (state $LV_STATE)"
}

# lv_stop: stop libvirt (domains, networks, daemons, state); idempotent.
lv_stop() {
  bash "$LV_SH" stop >/dev/null 2>&1 || true
  LV_HOLDER=""
}

lv_cleanup() {
  local rc=$?
  if [ $rc -ne 0 ] && [ -n "$LV_STATE" ] && [ -f "$LV_STATE/log/libvirtd.log" ]; then
    lv_note "libvirtd.log (last lines):"
    tail -n 20 "$LV_STATE/log/libvirtd.log" | sed 's/^/#   /'
  fi
  lv_stop
  lv_unplug_guests
  if [ "$LV_OWN_LAB" = 1 ]; then
    bash "$LV_LAB_SH" down >/dev/null 2>&1 || true
  elif declare -F lab_cleanup >/dev/null; then
    lab_cleanup
  fi
  if [ -n "$LV_WORK" ] && [ -z "${LAB_KEEP:-}" ]; then
    rm -rf "$LV_WORK"
  fi
  return $rc
}

# lv_exec CMD ARGS...: run a command inside libvirtd's mount + network namespace (in the
# current folder). With LIBVIRT_LAB_ROOT (another release's libvirt, lab/libvirt.sh) inside
# that root too, in the current folder when it is under /tmp (shared), else in /.
lv_exec() {
  [ -n "$LV_HOLDER" ] || {
    echo "lv_exec: libvirt is not started" >&2
    return 1
  }
  if [ -n "${LIBVIRT_LAB_ROOT:-}" ]; then
    local wd=/
    [[ "$PWD/" == /tmp/* ]] && wd=$PWD
    nsenter -t "$LV_HOLDER" -m -n -r --wd="$wd" -- "$@"
  else
    nsenter -t "$LV_HOLDER" -m -n --wd="$PWD" -- "$@"
  fi
}

# lv_virsh ARGS...: virsh -c qemu:///system ARGS... inside the lab.
lv_virsh() { lv_exec virsh -c "$LV_URI" "$@"; }

# lv_bind SRC DST: bind-mount an outside file or folder over DST inside the lab.
lv_bind() { bash "$LV_SH" bind "$1" "$2"; }

# lv_lab_for_hook [--without-nbr0]: the lab (lab_start), libvirtd inside it, and the test's
# config folder bound as the lab's /etc/virtnat, so that the CLI (run with lv_exec) shares
# /etc/virtnat and /run/virtnat with the hook. --without-nbr0 deletes the lab's nbr0
# (10.1.1.1/24): libvirt refuses a network whose subnet is already routed.
lv_lab_for_hook() {
  lab_start
  unset VIRTNAT_STATE_DIR VIRTNAT_CONFIG
  lv_start "$HOST_NS"
  lv_bind "$CONF_DIR" /etc/virtnat || lv_bail "cannot bind the config folder into the lab"
  if [ "${1:-}" = --without-nbr0 ]; then
    ip -n "$HOST_NS" link del nbr0 || lv_bail "cannot remove the lab's nbr0"
  fi
}

# lv_restart: restart libvirtd (running domains keep running; hooks are re-read).
lv_restart() {
  if ! bash "$LV_SH" restart >"$LV_WORK/libvirt-restart.log" 2>&1; then
    sed 's/^/# /' "$LV_WORK/libvirt-restart.log"
    return 1
  fi
}

lv_hooks_dir() { echo "$LV_STATE/etc/hooks"; }
lv_hooks_dir_inside() { bash "$LV_SH" hooks-dir; }

# lv_domain_xml NAME MAC BRIDGE|network:NETNAME [OPTIONS]: the lab's domain XML on stdout.
lv_domain_xml() { bash "$LV_SH" domain-xml "$@"; }

# lv_define_domain NAME MAC BRIDGE|network:NETNAME: define it (not started).
lv_define_domain() {
  lv_domain_xml "$@" >"$LV_WORK/domain-$1.xml" || return 1
  lv_virsh -q define "$LV_WORK/domain-$1.xml" >/dev/null
}

# lv_define_network FILE|-: define a network from an XML file (or stdin).
lv_define_network() {
  local file=${1:--}
  if [ "$file" = - ]; then
    file="$LV_WORK/network-$RANDOM.xml"
    cat >"$file"
  fi
  lv_virsh -q net-define "$file" >/dev/null
}

# lv_elapsed START: seconds since START (an $EPOCHREALTIME value), e.g. 1.42
lv_elapsed() {
  local now=$EPOCHREALTIME
  awk -v a="$1" -v b="$now" 'BEGIN { printf "%.2f", b - a }'
}

# lv_wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds; 1 on timeout.
lv_wait_for() {
  local timeout=$1 start=$EPOCHREALTIME
  shift
  while ! "$@" >/dev/null 2>&1; do
    if awk -v a="$start" -v b="$EPOCHREALTIME" -v t="$timeout" 'BEGIN { exit !(b - a >= t) }'; then
      return 1
    fi
    sleep 0.1
  done
}

# lv_dnat_elements: the elements of virtnat's map fwd_dnat (table $TABLE) in libvirt's lab,
# one a line: "LISTEN PROTO PORT TARGET TOPORT" (the lab's own nft: the root's with a root).
lv_dnat_elements() {
  lv_exec nft -j list map inet "$TABLE" fwd_dnat 2>/dev/null | jq -r '
    .nftables[] | select(.map) | (.map.elem // [])[]
    | [(.[0].concat[]), (.[1].concat[])] | map(tostring) | join(" ")'
}
# (Conditions never end in "| grep -q": with pipefail an early exit of grep can fail the
# pipeline with SIGPIPE; outputs are captured first.) Forwards listen on $PUB.
lv_has_elem() { grep -qx "$PUB $1 $2 $3 $4" <<<"$(lv_dnat_elements)"; } # PROTO PORT TARGET TOPORT
lv_has_no_elem() { ! grep -q "^$PUB $1 $2 " <<<"$(lv_dnat_elements)"; }  # PROTO PORT
# lv_check_elem DESC PROTO PORT TARGET TOPORT [SECONDS]: the element appears within SECONDS.
lv_check_elem() {
  local desc=$1 t=$EPOCHREALTIME
  if lv_wait_for "${6:-2}" lv_has_elem "$2" "$3" "$4" "$5"; then
    pass "$desc ($(lv_elapsed "$t")s)"
  else
    fail "$desc" "no element '$PUB . $2 . $3 : $4 . $5' in fwd_dnat after ${6:-2}s; elements:" "$(lv_dnat_elements)"
  fi
}
# lv_check_no_elem DESC PROTO PORT [SECONDS]: no element for the port (now, or within SECONDS).
lv_check_no_elem() {
  local desc=$1 t=$EPOCHREALTIME
  if lv_wait_for "${4:-0}" lv_has_no_elem "$2" "$3"; then
    pass "$desc ($(lv_elapsed "$t")s)"
  else
    fail "$desc" "fwd_dnat still has $PUB . $2 . $3; elements:" "$(lv_dnat_elements)"
  fi
}

# lv_port_forwarding PORT: the bridge port (in libvirt's namespace) forwards frames (STP keeps
# a new port listening and learning for a few seconds); lv_wait_port_forwarding PORT [SECONDS].
lv_port_forwarding() { grep -q 'state forwarding' <<<"$(bridge -n "$LV_NS" link show dev "$1" 2>/dev/null)"; }
lv_wait_port_forwarding() { lv_wait_for "${2:-15}" lv_port_forwarding "$1"; }

lv_domain_state() { lv_virsh -q domstate "$1" 2>/dev/null | head -n 1; }
lv_domain_is() { [ "$(lv_domain_state "$1")" = "$2" ]; }

# lv_wait_domain_state NAME STATE [SECONDS]: e.g. running, "shut off".
lv_wait_domain_state() { lv_wait_for "${3:-30}" lv_domain_is "$1" "$2"; }
lv_wait_domain_running() { lv_wait_domain_state "$1" running "${2:-30}"; }

lv_network_is_active() { lv_virsh -q net-info "$1" 2>/dev/null | grep_q -E '^Active:[[:space:]]+yes'; }

# lv_wait_network_active NAME [SECONDS]
lv_wait_network_active() { lv_wait_for "${2:-30}" lv_network_is_active "$1"; }

# lv_domain_pid NAME: the qemu pid of a running domain (libvirt's pid file inside the lab).
lv_domain_pid() { lv_exec cat "/run/libvirt/qemu/$1.pid" 2>/dev/null; }

# lv_daemon_pid libvirtd|virtlogd
lv_daemon_pid() { lv_exec cat "/run/libvirt/$1.pid" 2>/dev/null; }

# lv_network_dnsmasq_pid NETNAME: the pid of the network's dnsmasq.
lv_network_dnsmasq_pid() { lv_exec cat "/run/libvirt/network/$1.pid" 2>/dev/null; }

# lv_domain_ifaces NAME: the host-side tap names of a running domain, one per line.
lv_domain_ifaces() { lv_virsh -q domiflist "$1" 2>/dev/null | awk '$1 != "-" { print $1 }'; }

# lv_plug_guest NAME BRIDGE MAC [ADDR/PREFIX [GATEWAY]]: a guest network namespace
# ${LAB_PREFIX}-NAME whose eth0 (with MAC) is plugged into BRIDGE inside libvirtd's
# namespace (a libvirt network's bridge, e.g. vbr9, or the lab's nbr0), as a stand-in
# for a VM's network stack. With ADDR it is configured statically; without, use
# lv_dhcp NAME. Removed by lv_cleanup (or lv_unplug_guests).
lv_plug_guest() {
  local name=$1 bridge=$2 mac=$3 addr=${4:-} gw=${5:-}
  local ns="$LAB_PREFIX-$name" port="lvp-$name"
  [ ${#port} -le 15 ] || { echo "lv_plug_guest: name too long for an interface: $port" >&2; return 1; }
  ip netns add "$ns" || return 1
  # Recorded in a file too: a call in a subshell (e.g. through check) must still be cleaned up.
  LV_GUESTS+=("$ns")
  echo "$ns" >>"$LV_WORK/guests"
  ip -n "$ns" link set lo up &&
    ip -n "$ns" link add eth0 type veth peer name "$port" netns "$LV_NS" &&
    ip -n "$ns" link set eth0 address "$mac" &&
    ip -n "$LV_NS" link set "$port" master "$bridge" &&
    ip -n "$LV_NS" link set "$port" up &&
    ip -n "$ns" link set eth0 up || return 1
  if [ -n "$addr" ]; then
    ip -n "$ns" addr add "$addr" dev eth0 || return 1
    if [ -n "$gw" ]; then ip -n "$ns" route add default via "$gw" || return 1; fi
  fi
}

# lv_dhcp NAME [SECONDS]: run a DHCP client (busybox udhcpc) in guest NAME; configures
# eth0 and the default route there only, and prints the leased address.
lv_dhcp() {
  local ns="$LAB_PREFIX-$1" script="$LV_WORK/udhcpc-$1.sh" tries=${2:-10}
  cat >"$script" <<'EOS'
#!/bin/sh
# Only the guest namespace's eth0 and routes; never /etc/resolv.conf.
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route replace default via "${router%% *}"
    echo "$ip" > "$LEASE_FILE"
    ;;
esac
exit 0
EOS
  chmod 0755 "$script"
  rm -f "$LV_WORK/lease-$1"
  LEASE_FILE="$LV_WORK/lease-$1" ip netns exec "$ns" udhcpc -q -n -f -i eth0 -t "$tries" -T 1 -s "$script" >"$LV_WORK/udhcpc-$1.log" 2>&1 || return 1
  cat "$LV_WORK/lease-$1"
}

# lv_guest NAME CMD...: run a command in guest NAME's namespace.
lv_guest() {
  local ns="$LAB_PREFIX-$1"
  shift
  ip netns exec "$ns" "$@"
}

lv_unplug_guests() {
  local ns pid
  for ns in $(cat "$LV_WORK/guests" 2>/dev/null) "${LV_GUESTS[@]}"; do
    ns_exists_lv "$ns" || continue
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  LV_GUESTS=()
  rm -f "$LV_WORK/guests"
}

ns_exists_lv() { ip netns list 2>/dev/null | awk '{print $1}' | grep_q -x -- "$1"; }
