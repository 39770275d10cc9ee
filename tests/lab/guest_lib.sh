# shellcheck shell=bash
# Helpers for lab tests with REAL guest VMs: a Debian kernel + busybox initramfs
# (lab/guest-image, cached) booted by the lab's private libvirtd (lab/libvirt.sh) under KVM
# when /dev/kvm is usable, else QEMU's software emulation. Source it after lib.sh and
# libvirt_lib.sh:
#
#   vg_prepare                     # the image (built once, cached) + this test's initramfs
#                                  # with vnpeer in it; sets VG_KERNEL VG_INITRD VG_VIRT
#   vg_define lxdev01 02:FF:0A:0A:06:1C network:nat_bridge    # or a bridge name
#   vg_start lxdev01               # virsh start (the console of an earlier boot is set aside)
#   vg_wait_ready lxdev01 120      # waits for "vnguest: ready" on the console of this boot
#   vg_exec lxdev01 'nslookup lxdev02.devops.test'   # runs in the guest, prints, exit status
#   vg_console lxdev01             # the console of the current boot
#
# The guest (lab/guest/init): DHCP on eth0 sending its hostname, prints its lease and
# "vnguest: ready NAME ADDR/PREFIX BOOT-ID" on the console (ttyS0, a file); serves busybox
# httpd on tcp 80 (/cgi-bin/whoami answers "NAME 80 CLIENT") and vnpeer on tcp 22,53,8000-8009
# and udp 53 ("NAME PORT CLIENT" per connection or datagram); runs commands sent to its
# second serial port (ttyS1, a unix socket here; lab/guest/guestctl is the client); powers
# off on the ACPI power button (virsh shutdown). Console files and sockets live in $LV_WORK
# (/tmp is shared with the lab's mount namespace).

VG_TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VG_REPO_DIR=$(cd "$VG_TESTS_DIR/../.." && pwd)
VG_IMAGE_SH="$VG_REPO_DIR/lab/guest-image"
VG_GUESTCTL="$VG_REPO_DIR/lab/guest/guestctl"
VG_KERNEL=""
VG_INITRD=""
VG_VIRT=""         # kvm or qemu (software emulation)
VG_MEMORY_MIB=192

# vg_virt_type: kvm when /dev/kvm can be opened, else qemu (TCG).
vg_virt_type() {
  if [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then echo kvm; else echo qemu; fi
}

# vg_prepare [BIN...]: build (or reuse) the guest image and make this test's initramfs with
# vnpeer (and BINs) in it. Needs $LV_WORK (lv_make_work, lv_start).
vg_prepare() {
  local out
  lv_make_work
  out=$(bash "$VG_IMAGE_SH" build 2>"$LV_WORK/guest-image.log") || {
    sed 's/^/# /' "$LV_WORK/guest-image.log"
    return 1
  }
  VG_KERNEL=$(awk '$1 == "kernel" { print $2 }' <<<"$out")
  VG_INITRD="$LV_WORK/guest-initrd"
  bash "$VG_IMAGE_SH" initrd "$VG_INITRD" "$VNPEER" "$@" 2>>"$LV_WORK/guest-image.log" || {
    sed 's/^/# /' "$LV_WORK/guest-image.log"
    return 1
  }
  chmod 0644 "$VG_INITRD"
  VG_VIRT=$(vg_virt_type)
}

vg_console_file() { echo "$LV_WORK/$1.console"; }
vg_socket() { echo "$LV_WORK/$1.cmd"; }

# vg_domain_xml NAME MAC BRIDGE|network:NETNAME [EXTRA_CMDLINE]: the domain on stdout (the
# lab's one domain template, booting the guest image's kernel).
vg_domain_xml() {
  local name=$1 mac=$2 target=$3 extra=${4:-}
  lv_domain_xml "$name" "$mac" "$target" --type "$VG_VIRT" --memory "$VG_MEMORY_MIB" \
    --kernel "$VG_KERNEL" --initrd "$VG_INITRD" \
    --cmdline "console=ttyS0 quiet panic=-1 vnguest.name=$name${extra:+ $extra}" \
    --console "$(vg_console_file "$name")" --command-socket "$(vg_socket "$name")"
}

# vg_define NAME MAC BRIDGE|network:NETNAME [EXTRA_CMDLINE]
vg_define() {
  vg_domain_xml "$@" >"$LV_WORK/guest-$1.xml" || return 1
  lv_virsh -q define "$LV_WORK/guest-$1.xml" >/dev/null
}

# vg_mark NAME: before a start: the console so far belongs to earlier boots. It is moved to
# NAME.console.prev (still readable), so nothing of an earlier boot is taken for this one
# (libvirt would truncate the file at start; a file state, so it also works from a subshell).
vg_mark() {
  local file
  file=$(vg_console_file "$1")
  if [ -f "$file" ]; then mv -f "$file" "$file.prev"; fi
  return 0
}

# vg_start NAME: virsh start, after marking the console.
vg_start() {
  vg_mark "$1"
  lv_virsh -q start "$1" >/dev/null
}

# vg_console NAME: the console of the current boot (since the last vg_mark), CRs removed.
vg_console() {
  local file
  file=$(vg_console_file "$1")
  [ -f "$file" ] || return 0
  tr -d '\r' <"$file"
}

# vg_ready_line NAME: "vnguest: ready NAME ADDR/PREFIX BOOT-ID" of the current boot, if any.
vg_ready_line() { vg_console "$1" | grep -m1 '^vnguest: ready ' || true; }
vg_is_ready() { [ -n "$(vg_ready_line "$1")" ]; }

# vg_wait_ready NAME [SECONDS]: until the guest says ready (1 when it did not, or stopped).
vg_wait_ready() {
  local name=$1 timeout=${2:-180} start=$SECONDS
  while ! vg_is_ready "$name"; do
    if [ $((SECONDS - start)) -ge "$timeout" ]; then return 1; fi
    if [ $((SECONDS - start)) -ge 5 ] && ! lv_domain_is "$name" running; then return 1; fi
    sleep 0.2
  done
}

# vg_address NAME: the ADDR/PREFIX the guest reported ready with.
vg_address() { vg_ready_line "$1" | awk '{ print $4 }'; }

# vg_exec NAME COMMAND...: COMMAND (one line for sh -c) in the guest; its output, its status.
# VG_EXEC_TIMEOUT (default 60) bounds the wait.
vg_exec() {
  local name=$1
  shift
  python3 "$VG_GUESTCTL" --timeout "${VG_EXEC_TIMEOUT:-60}" "$(vg_socket "$name")" "$@"
}

# vg_connect NAME PROTO ADDR PORT [TIMEOUT_MS]: vnpeer connect from inside the guest; prints
# what it printed ("NAME PORT CLIENT", or refused / timeout / unreachable).
vg_connect() {
  vg_exec "$1" "vnpeer connect --$2 $3 $4 --timeout-ms ${5:-2000}"
}

# vg_resolve NAME FQDN [a|aaaa]: the addresses the guest's resolver (from DHCP) gives for
# FQDN, one a line (busybox nslookup, an A query unless aaaa); nothing when it does not resolve.
vg_resolve() {
  vg_exec "$1" "nslookup -type=${3:-a} $2" 2>/dev/null |
    awk '/^Name:/ { found = 1 } found && /^Address/ { sub(/^Address:?[[:space:]]*/, ""); print }'
}

# vg_expect_reply GUEST PROTO ADDR PORT WANT [DESC]: like lib.sh's expect_reply, but the
# connection is opened by the guest VM.
vg_expect_reply() {
  expect_reply_via vg_connect "$1" "$2" "$3" "$4" "$5" "${6:-"VM $1 -> $2 $3:$4 answers '$5'"}"
}

# vg_expect_no_reply GUEST PROTO ADDR PORT [DESC]: the guest's connection gets nothing
# (timeout, refused or unreachable).
vg_expect_no_reply() {
  expect_no_reply_via vg_connect "$1" "$2" "$3" "$4" any "${5:-"VM $1 -> $2 $3:$4 gets nothing"}"
}

# vg_dump NAME: the console of the current boot as "# " detail lines (for failures).
vg_dump() {
  echo "# console of $1 (this boot):"
  vg_console "$1" | tail -n 40 | sed 's/^/#   /'
}
