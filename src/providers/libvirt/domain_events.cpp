#include "providers/libvirt/domain_events.h"

#include <libvirt/libvirt.h>

namespace virtnat {

DomainChange DomainChangeOf(int event) {
  switch (event) {
    case VIR_DOMAIN_EVENT_STARTED:
      return DomainChange::kStarted;
    case VIR_DOMAIN_EVENT_STOPPED:
      return DomainChange::kStopped;
    default:
      return DomainChange::kNone;
  }
}

RunningChanges DiffRunningDomains(const RunningDomains& recorded, const RunningDomains& running) {
  RunningChanges changes;
  for (const auto& [name, hosts] : recorded) {
    auto it = running.find(name);
    if (it == running.end() || it->second != hosts) changes.stopped.emplace_back(name, hosts);
  }
  for (const auto& [name, hosts] : running) {
    auto it = recorded.find(name);
    if (it == recorded.end() || it->second != hosts) changes.started.emplace_back(name, hosts);
  }
  return changes;
}

}  // namespace virtnat
