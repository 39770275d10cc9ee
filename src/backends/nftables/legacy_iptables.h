// Legacy iptables (the x_tables rules that `iptables-legacy-save` shows, which nftables does
// not list): virtnat does not analyse them, so a base chain of a probe's hook that could drop
// its packet is reported as "may block" (never as fine).
#pragma once

#include <string>
#include <vector>

#include "engine/firewall_backend.h"

namespace virtnat {

// Pure: findings (all `sure = false`) for each probe whose hook's chain in `save_text` (the
// output of iptables-legacy-save) has policy DROP or a rule whose target may drop.
std::vector<TrafficFinding> LegacyIptablesFindings(const std::string& save_text,
                                                   const std::vector<TrafficProbe>& probes);

// Runs /usr/sbin/iptables-legacy-save when it is there; "" otherwise.
std::string ReadLegacyIptables();

}  // namespace virtnat
