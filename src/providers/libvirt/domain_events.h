// Which libvirt domain lifecycle events change the forwards of a domain.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace virtnat {

enum class DomainChange { kNone, kStarted, kStopped };

// `event` is a virDomainEventType. Only STARTED (boot, restore, incoming migration) and
// STOPPED (destroy, shutdown, crash, save, outgoing migration) count. libvirt also sends
// RESUMED right after a start and SHUTDOWN right before a stop, which would turn the same
// forwards on or off twice; and SHUTDOWN without a STOPPED when libvirt restarts a guest that
// shut itself down in place (on_poweroff/on_reboot = "restart"), while its forwards must stay.
DomainChange DomainChangeOf(int event);

using RunningDomains = std::map<std::string, std::set<std::string>>;  // domain -> its hosts

struct RunningChanges {
  std::vector<std::pair<std::string, std::set<std::string>>> stopped;  // with the recorded hosts
  std::vector<std::pair<std::string, std::set<std::string>>> started;  // with the current hosts
};

// What turns the recorded running set into what libvirt reports. A domain whose hosts changed
// (a NIC's MAC, the config) is stopped with the old hosts and started with the new ones.
RunningChanges DiffRunningDomains(const RunningDomains& recorded, const RunningDomains& running);

}  // namespace virtnat
