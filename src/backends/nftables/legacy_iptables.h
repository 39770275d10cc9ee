// Legacy iptables (the x_tables rules that `iptables-legacy-save` shows, which nftables does
// not list): virtnat does not analyse them, so a base chain of a probe's hook that could drop
// its packet is reported as "may block" (never as fine).
#pragma once

#include <string>
#include <vector>

#include "engine/firewall_backend.h"

namespace virtnat {

// Pure: findings (all `sure = false`) for each probe of `family` whose hook's chain in
// `save_text` (the output of iptables-legacy-save, or ip6tables-legacy-save for kIpv6) has
// policy DROP or a rule whose target may drop. Probes of the other family are left out:
// iptables never sees IPv6 packets, ip6tables never IPv4 ones.
std::vector<TrafficFinding> LegacyIptablesFindings(const std::string& save_text,
                                                   const std::vector<TrafficProbe>& probes,
                                                   IpFamily family = IpFamily::kIpv4);

// Runs /usr/sbin/iptables-legacy-save (ip6tables-legacy-save for kIpv6) when it is there;
// "" otherwise.
std::string ReadLegacyIptables(IpFamily family = IpFamily::kIpv4);

}  // namespace virtnat
