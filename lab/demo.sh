#!/bin/bash
# A guided tour of virtnat in the lab: `make demo` runs
#   bash lab/demo.sh build/virtnat
# It builds a small lab (a KVM host and a LAN with two clients, all network namespaces on
# this machine), lets virtnat install port forwards, proves them with real connections, and
# removes everything again, whatever happens.
#
# Two tours, chosen by VIRTNAT_DEMO (default auto):
#   vm          real VMs: a private libvirtd in the lab's host namespace boots two Debian
#               kernel + busybox guests (lab/guest-image; KVM when /dev/kvm is usable, else
#               QEMU's software emulation) on a libvirt network virtnat defines; its hook
#               opens and closes their forwards as they start and stop
#   namespaces  two network namespaces stand in for the guests (no libvirt)
#   auto        vm when this machine can boot them (libvirtd, QEMU and the guest image are
#               there or can be made), namespaces otherwise; it says which and why
set -uo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 PATH/TO/virtnat" >&2
  exit 2
fi
VIRTNAT_BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
VNPEER="$(dirname "$VIRTNAT_BIN")/vnpeer"
LAB_SH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lab.sh"
# shellcheck source=lab/lab-config.sh
source "$(dirname "${BASH_SOURCE[0]}")/lab-config.sh"
export LAB_PREFIX="${LAB_PREFIX:-vnlab}"
P=$LAB_PREFIX

for bin in "$VIRTNAT_BIN" "$VNPEER"; do
  [ -x "$bin" ] || { echo "demo: $bin is missing; build first (make build)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "demo: needs root (it creates network namespaces)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/virtnat-demo.XXXXXX")
export VIRTNAT_CONFIG="$WORK/etc/virtnat.toml"
export VIRTNAT_STATE_DIR="$WORK/state"
mkdir -p "$WORK/etc" "$VIRTNAT_STATE_DIR"
SERVERS=()
SURPRISES=0
STEP=0

cleanup() {
  local pid
  for pid in "${SERVERS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${SERVERS[@]}"; do wait "$pid" 2>/dev/null || true; done
  # Real VMs: libvirt first (domains, networks, daemons, its state), then the namespaces.
  if declare -F lv_stop >/dev/null; then
    lv_stop
    [ -z "${LV_WORK:-}" ] || rm -rf "$LV_WORK"
  fi
  bash "$LAB_SH" down >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() {
  STEP=$((STEP + 1))
  echo
  echo "== Step $STEP: $1"
  shift
  local line
  for line in "$@"; do echo "   $line"; done
  echo
}

say() { echo "   $*"; }

# host CMD...: show a command typed on the KVM host, then run it there.
host() {
  echo "   [kvm-host]# $*"
  local bin=$1
  shift
  [ "$bin" = virtnat ] && bin=$VIRTNAT_BIN
  ip netns exec "$P-host" "$bin" "$@" 2>&1 | sed 's/^/   | /'
  return "${PIPESTATUS[0]}"
}

# try NODE PROTO ADDR PORT EXPECT WHAT: a connection from a lab machine, with its meaning.
#   EXPECT is "answer" or "nothing".
try() {
  local node=$1 proto=$2 addr=$3 port=$4 expect=$5 what=$6 out rc
  echo "   [$node]\$ vnpeer connect --$proto $addr $port"
  out=$(ip netns exec "$P-$node" "$VNPEER" connect "--$proto" "$addr" "$port" --timeout-ms 1500 2>&1)
  rc=$?
  echo "   | $out"
  if [ $rc -eq 0 ]; then
    read -r who lport peer <<<"$out"
    say "-> $who answered on its port $lport and saw the connection come from $peer. $what"
    [ "$expect" = answer ] || { say "!! expected no answer here"; SURPRISES=$((SURPRISES + 1)); }
  else
    say "-> no answer ($out). $what"
    [ "$expect" = nothing ] || { say "!! expected an answer here"; SURPRISES=$((SURPRISES + 1)); }
  fi
  echo
}

serve() { # NODE NAME ARGS...
  local node=$1 name=$2 log="$WORK/$1.log"
  shift 2
  ip netns exec "$P-$node" "$VNPEER" serve --name "$name" "$@" >"$log" 2>&1 &
  SERVERS+=($!)
  for _ in $(seq 1 100); do
    grep -q '^ready' "$log" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "demo: the test server on $node did not start:" >&2
  cat "$log" >&2
  exit 1
}

# ====================================================================== mode

MODE=""
MODE_WHY=""
LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TESTS_LAB_DIR="$(cd "$LAB_DIR/../tests/lab" && pwd)"
GUEST_IMAGE="$LAB_DIR/guest-image"

# choose_mode: MODE=vm or namespaces (VIRTNAT_DEMO=auto|vm|namespaces), MODE_WHY says why.
choose_mode() {
  local want=${VIRTNAT_DEMO:-auto} bin missing=""
  case "$want" in
    namespaces)
      MODE=namespaces
      MODE_WHY="namespaces stand in for VMs (VIRTNAT_DEMO=namespaces)"
      return
      ;;
    auto | vm) ;;
    *)
      echo "demo: VIRTNAT_DEMO must be auto, vm or namespaces" >&2
      exit 2
      ;;
  esac
  for bin in libvirtd virtlogd virsh qemu-system-x86_64 dnsmasq nsenter unshare python3 apt-get dpkg-deb busybox; do
    command -v "$bin" >/dev/null 2>&1 || missing+=" $bin"
  done
  if [ -z "$missing" ]; then
    echo "demo: preparing the guest image (lab/guest-image build; the first time it downloads"
    echo "      Debian's linux-image-amd64 and busybox-static, about 72 MB, and caches the result)"
    if bash "$GUEST_IMAGE" build >"$WORK/guest-image.log" 2>&1; then
      MODE=vm
      if [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
        MODE_WHY="real VMs under KVM"
      else
        MODE_WHY="real VMs under QEMU's software emulation (no usable /dev/kvm here, so a boot takes 10-30 s)"
      fi
      return
    fi
    missing=" a guest image ($(tail -n 1 "$WORK/guest-image.log"))"
  fi
  if [ "$want" = vm ]; then
    echo "demo: VIRTNAT_DEMO=vm, but this machine cannot boot the lab's VMs: missing$missing" >&2
    exit 1
  fi
  MODE=namespaces
  MODE_WHY="namespaces stand in for VMs: this machine cannot boot them (missing$missing)"
}

# ====================================================================== real VMs

# vhost SHOWN -- CMD...: show SHOWN as typed on the KVM host, run CMD there (libvirtd's
# mount + network namespace), show its output.
vhost() {
  local shown=$1
  shift 2
  echo "   [kvm-host]# $shown"
  lv_exec "$@" 2>&1 | sed 's/^/   | /'
  return "${PIPESTATUS[0]}"
}
# vhost_virtnat ARGS...: `virtnat ARGS` on the KVM host with its default config and state
# (/etc/virtnat/virtnat.toml and /run/virtnat, both private to the lab's libvirtd).
vhost_virtnat() { vhost "virtnat $*" -- "$VIRTNAT_BIN" "$@"; }
vhost_virsh() { vhost "virsh $*" -- virsh -c qemu:///system "$@"; }

# vm_do VM COMMAND: show and run a command typed inside a VM (through its serial command
# server) and what the VM answered; the answer stays in VM_OUT.
VM_OUT=""
vm_do() {
  local vm=$1 cmd=$2 rc
  echo "   [$vm]# $cmd"
  VM_OUT=$(vg_exec "$vm" "$cmd" 2>&1)
  rc=$?
  [ -z "$VM_OUT" ] || sed 's/^/   | /' <<<"$VM_OUT"
  return $rc
}

# vm_try VM PROTO ADDR PORT EXPECT WHAT: a connection opened by the VM itself.
vm_try() {
  local vm=$1 proto=$2 addr=$3 port=$4 expect=$5 what=$6 rc who lport peer
  vm_do "$vm" "vnpeer connect --$proto $addr $port --timeout-ms 1500"
  rc=$?
  if [ $rc -eq 0 ]; then
    read -r who lport peer <<<"$VM_OUT"
    say "-> $who answered on its port $lport and saw the connection come from $peer. $what"
    [ "$expect" = answer ] || { say "!! expected no answer here"; SURPRISES=$((SURPRISES + 1)); }
  else
    say "-> no answer ($VM_OUT). $what"
    [ "$expect" = nothing ] || { say "!! expected an answer here"; SURPRISES=$((SURPRISES + 1)); }
  fi
  echo
}

# web NODE URL WANT WHAT: busybox wget from a LAN client.
web() {
  local node=$1 url=$2 want=$3 what=$4 out
  echo "   [$node]\$ wget -qO- $url"
  out=$(ip netns exec "$P-$node" timeout 10 busybox wget -q -O - "$url" 2>&1)
  sed 's/^/   | /' <<<"$out"
  if [ "$out" = "$want" ]; then
    say "-> $what"
  else
    say "!! expected '$want'"
    SURPRISES=$((SURPRISES + 1))
  fi
  echo
}

# boot VM...: wait until each VM says ready on its console, and show that console.
boot() {
  local vm t=$EPOCHREALTIME
  for vm in "$@"; do
    if vg_wait_ready "$vm" 240; then
      say "$vm's serial console (a file), $(lv_elapsed "$t") s after virsh start (the guest's lines):"
      vg_console "$vm" | grep '^vnguest:' | sed 's/^/   | /'
    else
      say "!! $vm did not boot; its console:"
      vg_console "$vm" | tail -n 20 | sed 's/^/   | /'
      SURPRISES=$((SURPRISES + 1))
      return 1
    fi
  done
  echo
}

# The tour with real VMs. (The function's body is not indented: it holds here-documents.)
demo_vms() {
unset VIRTNAT_CONFIG VIRTNAT_STATE_DIR
# shellcheck disable=SC2317,SC2329 # used by the sourced helpers
grep_q() { grep "$@" >/dev/null; }
# shellcheck source=tests/lab/libvirt_lib.sh
source "$TESTS_LAB_DIR/libvirt_lib.sh"
# shellcheck source=tests/lab/guest_lib.sh
source "$TESTS_LAB_DIR/guest_lib.sh"
local pub=198.51.100.1 vm

cat <<EOF
virtnat demo with real VMs
==========================
virtnat turns one config file into one nftables table that gives KVM guests on a NAT
network their way out (masquerade) and publishes chosen guest ports on the host's public
address (port forwards); its libvirt hook opens a VM's forwards when the VM starts and
closes them when it stops. This demo shows it with real VMs booted by libvirt, inside
network namespaces on this machine; nothing outside them is touched.
Mode: $MODE_WHY.
EOF

step "Build the lab" \
  "Network namespaces stand in for the machines around the VMs:" \
  "  $P-host  the KVM host: uplink 198.51.100.1 to the LAN; libvirtd runs here, isolated" \
  "            (its own /etc/libvirt, /run/libvirt, /etc/virtnat, /run/virtnat)" \
  "  $P-c1    LAN client 198.51.100.10     $P-c2  LAN client 198.51.100.20" \
  "  $P-lan   the LAN switch between the host's uplink and the clients"
echo "   # bash lab/lab.sh up && bash lab/libvirt.sh start $P-host"
bash "$LAB_SH" up 2>&1 | sed 's/^/   | /'
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "demo: lab.sh up failed" >&2; exit 1; }
# The lab's namespace guests and their bridge (10.1.1.1/24) make way for the VMs' network.
ip -n "$P-host" link del nbr0 2>/dev/null
LV_OWN_LAB=1
lv_start "$P-host" >"$WORK/libvirt-start.log"
sed 's/^# /   | /' "$WORK/libvirt-start.log"
trap cleanup EXIT
chmod 0755 "$WORK"
lv_bind "$WORK/etc" /etc/virtnat || { echo "demo: cannot bind the config folder into the lab" >&2; exit 1; }

step "The guest image" \
  "Each VM boots a Debian kernel with a small busybox initramfs, made from Debian packages" \
  "only (linux-image-amd64, busybox-static) by lab/guest-image and cached. At boot the guest" \
  "asks DHCP for its address (sending its hostname), serves a web page (busybox httpd) and" \
  "vnpeer on tcp 22 and udp 53 (it answers \"NAME PORT CLIENT-ADDRESS\"), and takes commands" \
  "on its second serial port, so that this demo can show what happens inside it."
echo "   # bash lab/guest-image info"
bash "$GUEST_IMAGE" info 2>&1 | grep -v '^cached: built' | sed 's/^/   | /'
# shellcheck disable=SC2119 # no extra binaries for the image
vg_prepare || { echo "demo: the guest image could not be made" >&2; exit 1; }

# The lab's standard network (lab/lab-config.sh, from tests/data/lab-network.toml), in libvirt.
{
  lab_settings table=- "public_address=$pub       # where forwards listen by default" \
    'vm_lifecycle=libvirt              # a forward is open while its VM runs'
  lab_network 'provider=libvirt                  # virtnat defines the network in libvirt' \
    bridge=vnat0 mac_prefix=-
  lab_host lxdev01
  lab_host lxdev02 mac=02:FF:0A:0A:06:1D
  lab_forward web
  lab_forward ssh
  lab_forward dns
  lab_forward ssh_c1 'source=["198.51.100.10/32"]         # only c1 may use it'
} >"$WORK/etc/virtnat.toml"
chmod 0644 "$WORK/etc/virtnat.toml"
step "The config" \
  "/etc/virtnat/virtnat.toml describes the network, its hosts (MAC, address, name) and the" \
  "forwards. The hosts get their addresses from DHCP and their names in DNS."
sed 's/^/   | /' "$WORK/etc/virtnat.toml"

step "Check and apply" \
  "apply defines, starts and autostarts the libvirt network (bridge, DHCP hosts, DNS), then" \
  "installs the whole table in one nftables transaction. No VM runs yet: the forwards wait."
vhost_virtnat check || SURPRISES=$((SURPRISES + 1))
vhost_virtnat apply || SURPRISES=$((SURPRISES + 1))
vhost_virsh net-list || SURPRISES=$((SURPRISES + 1))

step "Install the hook" \
  "libvirt runs the hook when a VM starts or stops; it looks for hooks when it starts."
vhost_virtnat hook install || SURPRISES=$((SURPRISES + 1))
echo "   [kvm-host]# systemctl restart libvirtd        (in the lab: bash lab/libvirt.sh restart)"
lv_restart || SURPRISES=$((SURPRISES + 1))

step "Define and start two VMs" \
  "Each domain boots the kernel and initramfs directly (<kernel>, <initrd>, <cmdline>)," \
  "192 MiB, one virtio NIC on nat_bridge with the host's MAC, its console to a file."
vg_domain_xml lxdev01 02:FF:0A:0A:06:1C network:nat_bridge >"$LV_WORK/lxdev01.xml"
vg_domain_xml lxdev02 02:FF:0A:0A:06:1D network:nat_bridge >"$LV_WORK/lxdev02.xml"
say "lxdev01.xml, the lines that matter:"
grep -E "<domain|<memory|<kernel|<initrd|<cmdline|<source network|<mac|<model type='virtio'|<serial type='file'|<source path" \
  "$LV_WORK/lxdev01.xml" | sed 's/^/   | /'
# (in the folder of the XML files, as a user would be)
(cd "$LV_WORK" && vhost_virsh define lxdev01.xml) || SURPRISES=$((SURPRISES + 1))
(cd "$LV_WORK" && vhost_virsh define lxdev02.xml) || SURPRISES=$((SURPRISES + 1))
vg_mark lxdev01
vg_mark lxdev02
vhost_virsh start lxdev01 || SURPRISES=$((SURPRISES + 1))
vhost_virsh start lxdev02 || SURPRISES=$((SURPRISES + 1))
say "The hook has opened their forwards already; the VMs boot meanwhile."
echo
boot lxdev01 lxdev02 || return 0

step "Status" "Every forward is active now that its VM runs; DHCP gave each VM its configured address."
vhost_virtnat status || SURPRISES=$((SURPRISES + 1))
vhost_virsh net-dhcp-leases nat_bridge || SURPRISES=$((SURPRISES + 1))

serve c1 c1 --tcp 7000
step "From the LAN to the VMs, through the forwards"
web c1 "http://$pub:8080/" "hello from lxdev01" "busybox httpd in lxdev01 answered."
web c1 "http://$pub:8080/cgi-bin/whoami" "lxdev01 80 198.51.100.10" "lxdev01 sees the real client address."
try c1 tcp "$pub" 2222 answer "ssh's port of lxdev01, published as 2222."
try c2 udp "$pub" 5353 answer "UDP to lxdev02."
try c1 tcp "$pub" 2223 answer "c1 is on this forward's allowlist..."
try c2 tcp "$pub" 2223 nothing "...c2 is not."
try c1 tcp "$pub" 22 nothing "Nothing else is open: port 22 of the host address is not lxdev01's."

step "Inside the VMs" "Commands typed in the VMs (here sent to their serial command server)."
vm_do lxdev01 "ip -4 addr show dev eth0"
vm_do lxdev01 "nslookup -type=a lxdev02.devops.test"
say "-> libvirt's dnsmasq knows the other VM by name."
echo
vm_try lxdev01 tcp 198.51.100.10 7000 answer "The LAN sees the host's address: the VM's traffic is masqueraded."
vm_try lxdev02 tcp "$pub" 2222 answer "Hairpin: lxdev02 reaches lxdev01 through the public address."

step "Stop a VM: its forwards close at once" \
  "virsh shutdown presses the ACPI power button; the guest powers off, libvirt runs the hook."
vhost_virsh shutdown lxdev01 || SURPRISES=$((SURPRISES + 1))
if lv_wait_domain_state lxdev01 "shut off" 60; then
  vg_console lxdev01 | grep -E 'power button|Power down' | sed 's/^/   | /'
  vhost_virsh list --all
else
  say "!! lxdev01 did not power off"
  SURPRISES=$((SURPRISES + 1))
fi
try c1 tcp "$pub" 2222 nothing "lxdev01 is off: its port is closed at once."
vhost_virtnat status || SURPRISES=$((SURPRISES + 1))

step "Start it again: its forwards open again"
vg_mark lxdev01
vhost_virsh start lxdev01 || SURPRISES=$((SURPRISES + 1))
boot lxdev01 || return 0
try c1 tcp "$pub" 2222 answer "Back, with the same address from DHCP."

step "Take it all down" "virtnat down deletes its own table and nothing else."
vhost_virtnat down || SURPRISES=$((SURPRISES + 1))
try c1 tcp "$pub" 2222 nothing "The forward is gone."
}

# ====================================================================== namespaces
# (The function's body is not indented: it holds here-documents.)

demo_namespaces() {
cat <<'EOF'
virtnat demo
============
virtnat turns one config file into one nftables table that gives KVM guests on a NAT
bridge their way out (masquerade) and publishes chosen guest ports on the host's
public address (port forwards). This demo shows it with real connections between
network namespaces on this machine; nothing outside them is touched.
EOF
echo "Mode: $MODE_WHY."

step "Build the lab" \
  "Six network namespaces stand in for real machines:" \
  "  $P-host  the KVM host: bridge nbr0 10.1.1.1/24 for the guests, uplink 198.51.100.1" \
  "  $P-g1    guest lxdev01 10.1.1.28      $P-g2  guest lxdev02 10.1.1.29" \
  "  $P-c1    LAN client 198.51.100.10     $P-c2  LAN client 198.51.100.20" \
  "  $P-lan   the LAN switch between the host's uplink and the clients"
echo "   # bash lab/lab.sh up"
bash "$LAB_SH" up 2>&1 | sed 's/^/   | /'
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "demo: lab.sh up failed" >&2; exit 1; }

step "Start small test servers" \
  "vnpeer stands in for real services: it answers every connection with" \
  "\"NAME PORT CLIENT-ADDRESS\", so we can see who answered and whom it saw."
serve g1 lxdev01 --tcp 22
serve g2 lxdev02 --tcp 80 --udp 53
serve c1 c1 --tcp 7000
say "lxdev01 listens on tcp 22 (think ssh), lxdev02 on tcp 80 and udp 53 (web and dns),"
say "and the LAN client c1 on tcp 7000."

{
  lab_settings table=- 'public_address=198.51.100.1   # where forwards listen by default' \
    'vm_lifecycle=ignore           # forwards are always active (no libvirt in the lab)'
  lab_network 'provider=external             # the bridge exists; virtnat only does the firewall' \
    mac_prefix=-
  lab_hosts
  lab_forward ssh
  lab_forward dns
} >"$VIRTNAT_CONFIG"
step "The config" \
  "One file describes the network, its hosts and the forwards: 198.51.100.1:2222 -> lxdev01:22" \
  "and udp 198.51.100.1:5353 -> lxdev02:53. (The demo points VIRTNAT_CONFIG at a temp file;" \
  "the default is /etc/virtnat/virtnat.toml.)"
sed 's/^/   | /' "$VIRTNAT_CONFIG"

step "Check the config" "virtnat check validates everything and reports every error as FILE:LINE: field: problem."
host virtnat check && say "-> the config is valid." || SURPRISES=$((SURPRISES + 1))

step "Before apply: nothing is forwarded yet"
try c1 tcp 198.51.100.1 2222 nothing "The host has nothing on port 2222 yet."

step "See what apply would do" "virtnat plan prints the ruleset and how it differs from the kernel's."
host virtnat plan || SURPRISES=$((SURPRISES + 1))

step "Apply" "The whole table goes in as one nftables transaction: all of it or nothing."
host virtnat apply && say "-> installed." || SURPRISES=$((SURPRISES + 1))
echo "   [kvm-host]# nft list tables"
ip netns exec "$P-host" nft list tables | sed 's/^/   | /'

step "Connections from the LAN go through"
try c1 tcp 198.51.100.1 2222 answer "The forward works, and lxdev01 sees the real client."
try c1 udp 198.51.100.1 5353 answer "UDP is forwarded too."
try c1 tcp 198.51.100.1 22 nothing "Only the published port is open: 22 on the host address is not lxdev01's."

step "Guests reach the LAN through the host (masquerade)"
try g1 tcp 198.51.100.10 7000 answer "c1 sees the host's address, not the guest's private one."

step "Add a forward from the command line" \
  "The argument order is that of virsh-instance-port-forward: GUEST:PORT PUBLIC-PORT." \
  "virtnat writes it to conf.d/50-cli.toml beside the config and applies at once."
try c1 tcp 198.51.100.1 8080 nothing "Port 8080 is not published yet."
host virtnat forward add lxdev02:80 8080 || SURPRISES=$((SURPRISES + 1))
try c1 tcp 198.51.100.1 8080 answer "Now it is."
host virtnat forward list || SURPRISES=$((SURPRISES + 1))

step "Status" "Every forward has its own counters: the ones we used show packets."
host virtnat status || SURPRISES=$((SURPRISES + 1))

step "Remove the forward" "It closes at once; the others keep working."
host virtnat forward remove lxdev02:80 8080 || SURPRISES=$((SURPRISES + 1))
try c1 tcp 198.51.100.1 8080 nothing "8080 is closed again."
try c1 tcp 198.51.100.1 2222 answer "2222 still works."

step "Take it all down" "virtnat down deletes its own table and nothing else."
host virtnat down || SURPRISES=$((SURPRISES + 1))
echo "   [kvm-host]# nft list tables"
ip netns exec "$P-host" nft list tables | sed 's/^/   | /'
say "-> (no table inet virtnat left)"
try c1 tcp 198.51.100.1 2222 nothing "The forward is gone."
}

# ====================================================================== main

choose_mode
if [ "$MODE" = vm ]; then
  demo_vms
else
  demo_namespaces
fi

if [ "$MODE" = vm ]; then
  step "Clean up" "The VMs, libvirtd, the lab's namespaces, servers and temp files are removed (also on Ctrl-C or error)."
else
  step "Clean up" "The lab's namespaces, servers and temp files are removed (also on Ctrl-C or error)."
fi
cleanup
trap - EXIT
if [ "$SURPRISES" -eq 0 ]; then
  echo "   Demo finished: everything behaved as described."
  exit 0
fi
echo "   Demo finished with $SURPRISES surprise(s): see the lines marked !! above."
exit 1
