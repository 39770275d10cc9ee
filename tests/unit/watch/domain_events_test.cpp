#include "watch/domain_events.h"

#include <gtest/gtest.h>
#include <libvirt/libvirt.h>

#include <initializer_list>

namespace virtnat {
namespace {

TEST(DomainEvents, StartAndStopOnly) {
  EXPECT_EQ(DomainChangeOf(VIR_DOMAIN_EVENT_STARTED), DomainChange::kStarted);
  EXPECT_EQ(DomainChangeOf(VIR_DOMAIN_EVENT_STOPPED), DomainChange::kStopped);
}

// libvirt sends RESUMED right after STARTED and SHUTDOWN right before STOPPED: acting on them
// too would change the same forwards twice.
TEST(DomainEvents, EverythingElseChangesNothing) {
  for (int event : std::initializer_list<int>{
           VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_UNDEFINED, VIR_DOMAIN_EVENT_SUSPENDED,
           VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_PMSUSPENDED,
           VIR_DOMAIN_EVENT_CRASHED, 12345})
    EXPECT_EQ(DomainChangeOf(event), DomainChange::kNone) << event;
}

}  // namespace
}  // namespace virtnat
