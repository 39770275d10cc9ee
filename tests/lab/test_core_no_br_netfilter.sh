#!/bin/bash
# The core lab test again with bridged frames kept out of the inet hooks inside the lab's
# host namespace (net.bridge.bridge-nf-call-*=0), the other way a KVM host can be set up.
# Where br_netfilter is not loaded at all this is the same run as test_core.sh.
export LAB_BR_NETFILTER=0
exec bash "$(dirname "${BASH_SOURCE[0]}")/test_core.sh" "$@"
