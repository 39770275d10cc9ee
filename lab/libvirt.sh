#!/bin/bash
# A real libvirtd (+ virtlogd) isolated inside one lab network namespace, so tests can
# define libvirt networks, start QEMU domains and exercise libvirt's hooks without
# touching the root namespace: every bridge, tap, dnsmasq and iptables rule libvirt
# makes lives in that namespace.
#
#   lab/libvirt.sh start NS         start virtlogd + libvirtd inside network namespace NS
#                                   (NS must exist, e.g. ${LAB_PREFIX}-host from lab.sh up)
#   lab/libvirt.sh exec CMD ARGS... run CMD inside libvirtd's mount + network namespace
#   lab/libvirt.sh virsh ARGS...    virsh -c qemu:///system ARGS... inside
#   lab/libvirt.sh restart          restart libvirtd (running domains keep running)
#   lab/libvirt.sh stop             destroy domains and networks, end every process of
#                                   this libvirt lab, remove its state (idempotent)
#   lab/libvirt.sh status           is it running, in which namespace, with which pids
#   lab/libvirt.sh bind SRC DST     bind-mount SRC (an outside file or folder) over DST
#                                   inside the lab, e.g. a test's config folder over /etc/virtnat
#   lab/libvirt.sh hooks-dir        the hooks folder as libvirtd sees it (/etc/libvirt/hooks)
#   lab/libvirt.sh state-dir        the state folder on the outside (private copies, pids)
#   lab/libvirt.sh domain-xml NAME MAC BRIDGE|network:NETNAME [OPTIONS]   (see domain_xml)
#                                   a minimal domain: type qemu, 64 MiB, no disk, one NIC
#
# LAB_PREFIX (default vnlab) as for lab.sh; the state lives in /tmp/${LAB_PREFIX}-libvirt
# (LIBVIRT_LAB_STATE overrides it). Several labs with different prefixes can coexist.
#
# How it is isolated: a holder process (`sleep infinity`) is started with
# `ip netns exec NS unshare -m --propagation private`, so it owns a private mount
# namespace inside NS. In that mount namespace /run/libvirt is a tmpfs and private
# copies (folders in the state dir) are bind-mounted over /etc/libvirt, /var/lib/libvirt,
# /var/cache/libvirt and /var/log/libvirt. virtlogd, libvirtd and everything they spawn
# (qemu, dnsmasq, hooks) are started with `nsenter -t HOLDER -m -n` and stay there.
# /run/virtnat is a private tmpfs and /etc/virtnat a private (empty) folder from the state
# dir too, so a virtnat hook that libvirtd runs (libvirt clears the environment, so the hook
# sees the default paths) never reads or writes the real ones; `bind` puts a test's config
# there. Only empty mount-point folders (/run/libvirt, /var/lib/libvirt, /var/cache/libvirt,
# /var/log/libvirt, /run/virtnat, /etc/virtnat) are created on the real file system when
# they are missing; nothing else outside the state dir changes.
#
# LIBVIRT_LAB_ROOT=DIR runs another release's libvirt instead of this machine's: DIR is a
# chroot with libvirt installed (scripts/debian-chroot libvirt-root: Debian 13's libvirt 11
# and its nftables firewall backend). The holder then mounts a copy-on-write overlay of DIR
# (its upper layer in the state dir, so DIR itself never changes), /proc, /sys, /dev, /tmp
# and the state dir into it and chroots there; every command of the lab (exec, virsh,
# libvirtd, its hooks) runs inside that root, and the private mounts above are made inside
# it. Commands see /tmp as on the outside, so files under /tmp can be handed in.
#
# Inside the lab, libvirt's hook folder is /etc/libvirt/hooks, which is
# $(lab/libvirt.sh state-dir)/etc/hooks from the outside. libvirt looks at it only when
# libvirtd starts: install hooks, then `restart`.
set -euo pipefail
# grep_q: "grep -q" that reads all its input. With pipefail, grep -q exiting at the first match
# can kill the writer with SIGPIPE and fail a pipeline whose answer was yes.
grep_q() { grep "$@" >/dev/null; }

P="${LAB_PREFIX:-vnlab}"
STATE="${LIBVIRT_LAB_STATE:-/tmp/${P}-libvirt}"
URI="qemu:///system"
# Where libvirt's qemu capabilities cache is kept between runs (probing qemu takes
# seconds; libvirt itself re-validates the cache against the qemu binary and version).
ROOT="${LIBVIRT_LAB_ROOT:-}"
ROOT_TAG=""
[ -z "$ROOT" ] || ROOT_TAG="-$(basename "$ROOT")"
CAPS_CACHE="${LIBVIRT_LAB_CAPS_CACHE:-/tmp/virtnat-libvirt-caps-cache$ROOT_TAG}"
START_TIMEOUT="${LIBVIRT_LAB_TIMEOUT:-60}"

die() {
  echo "libvirt.sh: $*" >&2
  exit 1
}
note() { echo "libvirt.sh: $*" >&2; }

ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep_q -x -- "$1"; }

holder_pid() { cat "$STATE/holder.pid" 2>/dev/null || true; }

# holder_alive: the recorded holder still runs and is still the process we started
# (same mount namespace as recorded, so a recycled pid is never taken for it).
holder_alive() {
  local pid
  pid=$(holder_pid)
  [ -n "$pid" ] && [ -e "/proc/$pid" ] || return 1
  [ "$(readlink "/proc/$pid/ns/mnt" 2>/dev/null)" = "$(cat "$STATE/mntns" 2>/dev/null)" ]
}

require_running() {
  holder_alive || die "not running (LAB_PREFIX=$P; start it with: lab/libvirt.sh start NS)"
}

# in_lab CMD...: run CMD inside the holder's mount + network namespace, in the current folder.
# With LIBVIRT_LAB_ROOT, inside the holder's root: the folder is kept only under /tmp
# (the one outside folder the root shows).
in_lab() {
  local wd=/
  [ -d "$PWD" ] && wd=$PWD
  if [ -n "$ROOT" ]; then
    [[ "$wd/" == /tmp/* ]] || wd=/
    nsenter -t "$(holder_pid)" -m -n -r --wd="$wd" -- "$@"
  else
    nsenter -t "$(holder_pid)" -m -n --wd="$wd" -- "$@"
  fi
}

virsh_in() { in_lab virsh -q -c "$URI" "$@"; }

libvirtd_answers() { in_lab timeout 10 virsh -c "$URI" version >/dev/null 2>&1; }

# lab_pids: every process (but this one) in this lab's mount namespace, found by the
# namespace recorded at start (so even when the holder is gone). One find, no fork per pid.
lab_pids() {
  local want pat path pid
  want=$(cat "$STATE/mntns" 2>/dev/null) || return 0
  [ -n "$want" ] || return 0
  pat=$(printf '%s' "$want" | sed 's/[][*?\\]/\\&/g')
  while IFS= read -r path; do
    pid=${path#/proc/}
    pid=${pid%%/*}
    [ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ] || echo "$pid"
  done < <(find /proc -mindepth 3 -maxdepth 3 -path '/proc/[0-9]*/ns/mnt' -lname "$pat" 2>/dev/null)
  return 0
}

pidfile_pid() { # NAME: libvirtd or virtlogd (pid file on the private tmpfs)
  local pid
  pid=$(cat "/proc/$(holder_pid)/root/run/libvirt/$1.pid" 2>/dev/null) || return 0
  [ -n "$pid" ] && [ -e "/proc/$pid" ] && echo "$pid"
  return 0
}

wait_gone() { # SECONDS PID...: wait until all PIDs have exited; 1 if some still run
  local deadline=$((SECONDS + $1)) pid alive line
  shift
  while :; do
    alive=0
    for pid in "$@"; do
      # Alive unless gone or a zombie (state Z in /proc/PID/stat; builtins only).
      if [ -e "/proc/$pid" ] && read -r line <"/proc/$pid/stat" 2>/dev/null; then
        line=${line##*) }
        [ "${line%% *}" = Z ] || alive=1
      fi
    done
    [ $alive -eq 0 ] && return 0
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.1
  done
}

wait_answers() {
  local start=$SECONDS
  while ! libvirtd_answers; do
    if [ $((SECONDS - start)) -ge "$START_TIMEOUT" ]; then
      note "libvirtd did not answer within ${START_TIMEOUT}s; its log:"
      tail -n 30 "$STATE/log/libvirtd.log" >&2 2>/dev/null || true
      return 1
    fi
    if [ -z "$(pidfile_pid libvirtd)" ] && [ $((SECONDS - start)) -ge 3 ]; then
      note "libvirtd is not running; its log:"
      tail -n 30 "$STATE/log/libvirtd.log" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.1
  done
}

start_libvirtd() {
  in_lab libvirtd -d -p /run/libvirt/libvirtd.pid
  wait_answers
}

# ------------------------------------------------------------------ start

# set_conf FILE KEY VALUE: KEY = VALUE in a libvirt .conf file (earlier settings of KEY
# are commented out, so the private copy may start from a real, edited file).
set_conf() {
  local file=$1 key=$2 value=$3
  touch "$file"
  sed -i -E "s/^([[:space:]]*${key}[[:space:]]*=)/# virtnat lab: \\1/" "$file"
  printf '%s = %s\n' "$key" "$value" >>"$file"
}

prepare_state() {
  rm -rf "$STATE"
  mkdir -p "$STATE"/{etc,lib,cache,log/qemu,virtnat-etc}
  chmod 0700 "$STATE"
  # A private copy of the real configuration: the *.conf files (qemu.conf, libvirtd.conf,
  # ...), the nwfilter definitions and libvirt's `default` network (defined, never
  # autostarted). Never the host's domains, other networks, pools, secrets or hooks: the
  # lab starts with no hooks folder at all, as a fresh host, so a test sees what
  # `hook install` does when the folder did not exist.
  mkdir -p "$STATE/etc/qemu/networks/autostart"
  local etc="$ROOT/etc"
  if [ -d "$etc/libvirt" ]; then
    find "$etc/libvirt" -maxdepth 1 -type f -name '*.conf' -exec cp -p {} "$STATE/etc/" \;
    if [ -d "$etc/libvirt/nwfilter" ]; then cp -a "$etc/libvirt/nwfilter" "$STATE/etc/"; fi
    if [ -f "$etc/libvirt/qemu/networks/default.xml" ]; then
      cp -p "$etc/libvirt/qemu/networks/default.xml" "$STATE/etc/qemu/networks/"
    fi
  fi
  # QEMU as root, no security driver, no cgroups (no systemd here), no per-domain
  # mount namespace (qemu stays in the lab's mount namespace, where stop finds it).
  local q="$STATE/etc/qemu.conf"
  set_conf "$q" user '"root"'
  set_conf "$q" group '"root"'
  set_conf "$q" dynamic_ownership 0
  set_conf "$q" remember_owner 0
  set_conf "$q" security_driver '"none"'
  set_conf "$q" namespaces '[ ]'
  set_conf "$q" cgroup_controllers '[ ]'
  set_conf "$q" stdio_handler '"logd"'
  local d="$STATE/etc/libvirtd.conf"
  set_conf "$d" log_outputs '"3:file:/var/log/libvirt/libvirtd.log"'
  set_conf "$d" unix_sock_group '"root"'
  set_conf "$d" unix_sock_rw_perms '"0770"'
  set_conf "$d" auth_unix_rw '"none"'
  set_conf "$d" auth_unix_ro '"none"'
  # LIBVIRT_LAB_FIREWALL_BACKEND (iptables or nftables): the network driver's firewall
  # backend, else libvirt's own choice (Debian's libvirt 11 tries iptables first).
  if [ -n "${LIBVIRT_LAB_FIREWALL_BACKEND:-}" ]; then
    set_conf "$STATE/etc/network.conf" firewall_backend "\"$LIBVIRT_LAB_FIREWALL_BACKEND\""
  fi
  set_conf "$STATE/etc/virtlogd.conf" log_outputs '"3:file:/var/log/libvirt/virtlogd.log"'
  # libvirt 9.0's qemu driver resolves its built-in user and group (libvirt-qemu on
  # Debian, normally made by libvirt-daemon-system) before it reads qemu.conf, and fails
  # when they do not exist. Private copies of /etc/passwd and /etc/group get them, so the
  # real ones stay untouched.
  cp "$etc/passwd" "$STATE/passwd"
  cp "$etc/group" "$STATE/group"
  local id=64055
  while grep -q "^[^:]*:[^:]*:$id:" "$STATE/passwd" "$STATE/group"; do id=$((id + 1)); done
  grep -q '^libvirt-qemu:' "$STATE/group" || echo "libvirt-qemu:x:$id:" >>"$STATE/group"
  grep -q '^kvm:' "$STATE/group" || echo "kvm:x:$((id + 1)):" >>"$STATE/group"
  grep -q '^libvirt:' "$STATE/group" || echo "libvirt:x:$((id + 2)):" >>"$STATE/group"
  grep -q '^libvirt-qemu:' "$STATE/passwd" ||
    echo "libvirt-qemu:x:$id:$id:Libvirt Qemu (lab):/var/lib/libvirt:/usr/sbin/nologin" >>"$STATE/passwd"
  # A warm qemu capabilities cache saves a qemu probe (seconds) on every start.
  if [ -d "$CAPS_CACHE/qemu" ]; then
    cp -a "$CAPS_CACHE/qemu" "$STATE/cache/" 2>/dev/null || true
  fi
}

start_failed() {
  local rc=$?
  if [ $rc -ne 0 ]; then
    note "start failed, cleaning up"
    lab_stop quiet
  fi
  exit $rc
}

lab_start() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (namespaces)"
  [ $# -eq 1 ] || die "usage: libvirt.sh start NETNS"
  local NS=$1
  [[ "$P" =~ ^[A-Za-z0-9_.-]+$ ]] || die "LAB_PREFIX may hold only letters, digits, '.', '_' and '-'"
  ns_exists "$NS" || die "no network namespace $NS (run lab/lab.sh up first?)"
  local bin
  for bin in nsenter unshare; do
    command -v "$bin" >/dev/null || die "$bin is missing (scripts/install-deps)"
  done
  for bin in libvirtd virtlogd virsh qemu-system-x86_64; do
    if [ -n "$ROOT" ]; then
      [ -x "$ROOT/usr/sbin/$bin" ] || [ -x "$ROOT/usr/bin/$bin" ] ||
        die "$bin is missing in $ROOT (scripts/debian-chroot libvirt-root)"
    else
      command -v "$bin" >/dev/null || die "$bin is missing (scripts/install-deps)"
    fi
  done
  if holder_alive; then
    if [ "$(cat "$STATE/netns" 2>/dev/null)" = "$NS" ] && libvirtd_answers; then
      note "already running in $NS"
      return 0
    fi
    note "removing an old libvirt lab '$P' first"
  fi
  lab_stop quiet

  local t0=$SECONDS
  prepare_state
  echo "$NS" >"$STATE/netns"
  local holder=(sleep infinity)
  if [ -z "$ROOT" ]; then
    # Mount points for the private mounts (empty folders; created only when missing).
    mkdir -p /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt /run/virtnat /etc/virtnat
  else
    # The overlay of the root, and the outside's /proc, /sys (of NS), /dev, /tmp and state dir
    # in it; the holder then lives in it (chroot), and nsenter -r takes every command there.
    mkdir -p "$STATE"/{rootfs,upper,work}
    # shellcheck disable=SC2016 # expanded by the inner sh
    holder=(sh -euc '
      root=$1 state=$2
      mount -t overlay virtnat-libvirt-lab \
        -o "lowerdir=$3,upperdir=$state/upper,workdir=$state/work" "$root"
      mount -t proc proc "$root/proc"
      mount -t sysfs sysfs "$root/sys"
      mount --rbind /dev "$root/dev"
      mount --rbind /tmp "$root/tmp"
      mkdir -p "$root$state" "$root/run/libvirt" "$root/var/lib/libvirt" "$root/var/cache/libvirt" \
        "$root/var/log/libvirt" "$root/run/virtnat" "$root/etc/virtnat"
      mount --bind "$state" "$root$state"
      mount -t tmpfs -o mode=0755 run "$root/run"
      mkdir -p "$root/run/libvirt" "$root/run/virtnat" "$root/run/lock"
      exec chroot "$root" sleep infinity' sh "$STATE/rootfs" "$STATE" "$ROOT")
  fi

  trap start_failed EXIT
  # The holder: owns the private mount namespace inside NS. ip netns exec and unshare
  # both exec, so $! is the sleep itself (with a root: sh, which execs chroot, then sleep).
  setsid ip netns exec "$NS" unshare -m --propagation private "${holder[@]}" \
    </dev/null >/dev/null 2>&1 &
  local pid=$! own_mnt
  own_mnt=$(readlink /proc/self/ns/mnt)
  for _ in $(seq 1 100); do
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sleep ] &&
      [ "$(readlink "/proc/$pid/ns/mnt" 2>/dev/null)" != "$own_mnt" ]; then
      break
    fi
    sleep 0.02
  done
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sleep ] || die "the namespace holder did not start"
  echo "$pid" >"$STATE/holder.pid"
  readlink "/proc/$pid/ns/mnt" >"$STATE/mntns"
  disown "$pid" 2>/dev/null || true

  # shellcheck disable=SC2016 # $1 is expanded by the inner sh
  in_lab sh -euc '
    mount -t tmpfs -o mode=0755 libvirt-lab /run/libvirt
    mount --bind "$1/etc" /etc/libvirt
    mount --bind "$1/lib" /var/lib/libvirt
    mount --bind "$1/cache" /var/cache/libvirt
    mount --bind "$1/log" /var/log/libvirt
    mount --bind "$1/passwd" /etc/passwd
    mount --bind "$1/group" /etc/group
    mount -t tmpfs -o mode=0755 virtnat-lab /run/virtnat
    mount --bind "$1/virtnat-etc" /etc/virtnat
    ip link set lo up
  ' sh "$STATE"
  in_lab virtlogd -d -p /run/libvirt/virtlogd.pid
  start_libvirtd
  trap - EXIT
  note "libvirtd is up in $NS after $((SECONDS - t0))s (state $STATE; holder pid $pid)"
}

# lab_bind SRC DST: bind-mount SRC (file or folder, outside path) over DST inside the lab.
lab_bind() {
  [ $# -eq 2 ] || die "usage: libvirt.sh bind SRC DST"
  require_running
  local src dst=$2
  src=$(realpath -e -- "$1") || die "no such file or folder: $1"
  [[ "$dst" = /* ]] || die "DST must be an absolute path: $dst"
  # shellcheck disable=SC2016 # $1 and $2 are expanded by the inner sh
  in_lab sh -euc '
    if [ -d "$1" ]; then mkdir -p "$2"; elif [ ! -e "$2" ]; then mkdir -p "$(dirname "$2")"; touch "$2"; fi
    mount --bind "$1" "$2"
  ' sh "$src" "$dst"
}

# ------------------------------------------------------------------ restart / stop

lab_restart() {
  require_running
  local pid
  pid=$(pidfile_pid libvirtd)
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone 20 "$pid" || {
      note "libvirtd $pid did not stop within 20s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone 5 "$pid" || true
    }
  fi
  # virtlogd is kept (it holds the domains' log pipes); start it again if it died.
  if [ -z "$(pidfile_pid virtlogd)" ]; then
    in_lab virtlogd -d -p /run/libvirt/virtlogd.pid
  fi
  start_libvirtd
  note "libvirtd restarted"
}

lab_stop() {
  local quiet=${1:-}
  if [ ! -d "$STATE" ]; then
    [ -n "$quiet" ] || note "not running (nothing to stop)"
    return 0
  fi
  if holder_alive; then
    if libvirtd_answers; then
      # Orderly first, so libvirt removes its taps, bridges and firewall rules.
      local name
      for name in $(virsh_in list --name 2>/dev/null); do
        in_lab timeout 15 virsh -q -c "$URI" destroy "$name" >/dev/null 2>&1 || true
      done
      for name in $(virsh_in net-list --name 2>/dev/null); do
        in_lab timeout 15 virsh -q -c "$URI" net-destroy "$name" >/dev/null 2>&1 || true
      done
    fi
    local d pid pids=()
    for d in libvirtd virtlogd; do
      pid=$(pidfile_pid "$d")
      [ -n "$pid" ] && pids+=("$pid")
    done
    if [ ${#pids[@]} -gt 0 ]; then
      kill -TERM "${pids[@]}" 2>/dev/null || true
      wait_gone 10 "${pids[@]}" || true
    fi
  fi
  # Whatever is left in the lab's mount namespace (qemu, dnsmasq, the holder, stray
  # commands started with exec): TERM, then KILL.
  local left
  left=$(lab_pids)
  if [ -n "$left" ]; then
    # shellcheck disable=SC2086
    kill -TERM $left 2>/dev/null || true
    # shellcheck disable=SC2086
    if ! wait_gone 5 $left; then
      kill -KILL $left 2>/dev/null || true
      wait_gone 5 $left || true
    fi
  fi
  left=$(lab_pids)
  if [ -n "$left" ]; then
    note "processes still in the lab's mount namespace: $left"
  fi
  # Keep the qemu capabilities cache for the next start.
  if [ -d "$STATE/cache/qemu/capabilities" ] && mkdir -p "$CAPS_CACHE" 2>/dev/null; then
    local tmp="$CAPS_CACHE/qemu.new.$$"
    { cp -a "$STATE/cache/qemu" "$tmp" && rm -rf "$CAPS_CACHE/qemu" && mv -T "$tmp" "$CAPS_CACHE/qemu"; } 2>/dev/null || true
    rm -rf "$tmp"
  fi
  rm -rf "$STATE"
  [ -n "$quiet" ] || note "stopped (LAB_PREFIX=$P)"
  return 0
}

lab_status() {
  if ! holder_alive; then
    echo "libvirt lab '$P': not running"
    return 1
  fi
  echo "libvirt lab '$P': network namespace $(cat "$STATE/netns"), holder $(holder_pid), state $STATE"
  echo "libvirtd pid: $(pidfile_pid libvirtd)  virtlogd pid: $(pidfile_pid virtlogd)"
  if libvirtd_answers; then
    echo "libvirtd answers on $URI"
    virsh_in list --all || true
    virsh_in net-list --all || true
  else
    echo "libvirtd does not answer"
    return 1
  fi
}

# ------------------------------------------------------------------ domain XML

xml_escape() {
  local s=$1
  s=${s//&/&amp;}
  s=${s//</&lt;}
  s=${s//>/&gt;}
  s=${s//\'/&apos;}
  s=${s//\"/&quot;}
  printf '%s' "$s"
}

# domain_xml NAME MAC BRIDGE|network:NETNAME [--kernel K --initrd I --cmdline C]
#            [--memory MIB] [--type qemu|kvm] [--console FILE] [--command-socket PATH]
# The one domain template of the lab. Without --kernel: no disk and no option ROM (this
# Debian has no iPXE ROMs), so SeaBIOS finds nothing to boot and idles, which is all the
# harness tests need; the serial port goes to a file in the private /var/log/libvirt. With
# --kernel (the guest image of tests/lab/guest_lib.sh): a direct kernel boot that powers off
# for good, a console file and, with --command-socket, a second serial port for commands.
domain_xml() {
  [ $# -ge 3 ] || die "usage: libvirt.sh domain-xml NAME MAC BRIDGE|network:NETNAME [OPTIONS]"
  local name mac target iface
  name=$(xml_escape "$1")
  mac=$(xml_escape "$2")
  [[ "$2" =~ ^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$ ]] || die "not a MAC address: $2"
  case "$3" in
    network:*)
      target=$(xml_escape "${3#network:}")
      iface="<interface type='network'>
      <source network='$target'/>"
      ;;
    *)
      target=$(xml_escape "$3")
      iface="<interface type='bridge'>
      <source bridge='$target'/>"
      ;;
  esac
  shift 3
  local kernel="" initrd="" cmdline="" memory=64 type=qemu socket=""
  local console="/var/log/libvirt/qemu/$name-serial.log"
  while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || die "domain-xml: $1 needs a value"
    case "$1" in
      --kernel) kernel=$(xml_escape "$2") ;;
      --initrd) initrd=$(xml_escape "$2") ;;
      --cmdline) cmdline=$(xml_escape "$2") ;;
      --memory) memory=$(xml_escape "$2") ;;
      --type) type=$(xml_escape "$2") ;;
      --console) console=$(xml_escape "$2") ;;
      --command-socket) socket=$(xml_escape "$2") ;;
      *) die "domain-xml: unknown option $1" ;;
    esac
    shift 2
  done
  local boot="    <boot dev='hd'/>" on_reboot=restart features="" command_serial=""
  if [ -n "$kernel" ]; then
    boot="    <kernel>$kernel</kernel>
    <initrd>$initrd</initrd>
    <cmdline>$cmdline</cmdline>"
    on_reboot=destroy
    features="
  <features>
    <acpi/>
  </features>"
  fi
  [ -z "$socket" ] || command_serial="
    <serial type='unix'>
      <source mode='bind' path='$socket'/>
      <target port='1'/>
    </serial>"
  cat <<EOF
<domain type='$type'>
  <name>$name</name>
  <memory unit='MiB'>$memory</memory>
  <currentMemory unit='MiB'>$memory</currentMemory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
$boot
  </os>$features
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>$on_reboot</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    $iface
      <mac address='$mac'/>
      <model type='virtio'/>
      <rom enabled='no'/>
    </interface>
    <serial type='file'>
      <source path='$console'/>
      <target port='0'/>
    </serial>$command_serial
    <controller type='usb' model='none'/>
    <video>
      <model type='none'/>
    </video>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}

# ------------------------------------------------------------------ main

usage() {
  echo "usage: libvirt.sh start NETNS | exec CMD... | virsh ARGS... | restart | stop | status |" \
    "hooks-dir | state-dir | domain-xml NAME MAC BRIDGE|network:NET   (LAB_PREFIX=$P)" >&2
  exit 2
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  start) lab_start "$@" ;;
  exec)
    [ $# -ge 1 ] || usage
    require_running
    in_lab "$@"
    ;;
  virsh)
    require_running
    in_lab virsh -c "$URI" "$@"
    ;;
  restart) lab_restart ;;
  stop) lab_stop ;;
  status) lab_status ;;
  bind) lab_bind "$@" ;;
  hooks-dir) echo /etc/libvirt/hooks ;;
  state-dir) echo "$STATE" ;;
  domain-xml) domain_xml "$@" ;;
  *) usage ;;
esac
