#include "providers/libvirt/domain_events.h"
#include "engine/vm_tracking.h"

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

// libvirt sends no event for a domain it finds dead when it reconnects after a restart: the
// running set is compared with libvirt's list instead.
TEST(DomainEvents, DiffRunningDomains) {
  RunningDomains recorded{{"lxdev01", {"lxdev01"}}, {"web2", {"lxdev02"}}, {"db", {"lxdb"}}};
  RunningDomains running{{"web2", {"lxdev02"}}, {"db", {"lxdb", "lxdb2"}}, {"new", {"lxnew"}}};
  RunningChanges changes = DiffRunningDomains(recorded, running);
  using Entry = std::pair<std::string, std::set<std::string>>;
  EXPECT_EQ(changes.stopped, (std::vector<Entry>{{"db", {"lxdb"}}, {"lxdev01", {"lxdev01"}}}));
  EXPECT_EQ(changes.started, (std::vector<Entry>{{"db", {"lxdb", "lxdb2"}}, {"new", {"lxnew"}}}));
  RunningChanges none = DiffRunningDomains(running, running);
  EXPECT_TRUE(none.stopped.empty());
  EXPECT_TRUE(none.started.empty());
}

}  // namespace
}  // namespace virtnat
