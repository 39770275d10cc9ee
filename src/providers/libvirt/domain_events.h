// Which libvirt domain lifecycle events change the forwards of a domain.
#pragma once

namespace virtnat {

enum class DomainChange { kNone, kStarted, kStopped };

// `event` is a virDomainEventType. Only STARTED (boot, restore, incoming migration) and
// STOPPED (destroy, shutdown, crash, save, outgoing migration) count. libvirt also sends
// RESUMED right after a start and SHUTDOWN right before a stop, which would turn the same
// forwards on or off twice; and SHUTDOWN without a STOPPED when libvirt restarts a guest that
// shut itself down in place (on_poweroff/on_reboot = "restart"), while its forwards must stay.
DomainChange DomainChangeOf(int event);

}  // namespace virtnat
