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

}  // namespace virtnat
