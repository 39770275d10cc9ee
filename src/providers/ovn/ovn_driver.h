// provider = "ovn": a fleet's networks in OVN's northbound database, written with ovn-nbctl
// (argument vectors, one transaction per apply, `--wait=hv` as the barrier), and read back
// from the northbound and southbound databases for status. The planner (ovn_plan.h) and the
// difference (nb_rows.h) are pure; this is where the programs run.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/network_driver.h"
#include "providers/ovn/nb_rows.h"

namespace virtnat {

class OvnDriver : public NetworkDriver {
 public:
  explicit OvnDriver(const Config& config);

  void Prepare(const Config& config, const std::vector<const Network*>& networks) override;
  std::vector<std::string> Realise(const Config& config,
                                   const std::vector<const Network*>& networks) override;
  // OVN keeps the networks on every chassis itself; `apply` repairs drift in the northbound
  // database (status shows it). watch runs on every hypervisor and leaves it alone.
  std::vector<std::string> Repair(const Config&, const std::vector<const Network*>&) override {
    return {};
  }
  std::string State(const Network& network) override;
  std::vector<std::string> Start(const Config& config, const Network& network) override;
  std::vector<std::string> Stop(const Network& network, bool undefine) override;
  std::string Status(const Network& network) override;
  std::string Definition(const Network& network) override;
  std::vector<NetworkLease> Leases(const Network& network) override;
  std::vector<ProviderNetwork> ListNetworks() override;
  std::vector<std::string> Warnings(const Config& config) override;
  std::vector<ProviderForward> ForwardStates(const Config& config, const Network& network) override;
  std::vector<std::string> StatusDetails(const Network& network) override;
  std::vector<std::string> Down(const Config& config) override;
  std::string InterfaceXml(const Network& network, const Host& host) override;

 private:
  struct Binding {
    std::string chassis;  // its name; empty when bound nowhere
    bool up = false;
  };
  struct Southbound {
    std::map<std::string, Binding> ports;  // logical port -> binding
    std::set<std::string> chassis;         // every registered chassis
  };

  std::vector<std::string> Database(const std::string& remote) const;
  // virtnat's rows in the northbound database, read once and again after each write. Throws
  // RuntimeFailure when the database cannot be read.
  const std::vector<ovn::DbRow>& Rows();
  // The southbound view for status; nullopt (and `southbound_error_`) when unknown.
  const Southbound* South();
  // Sends `change` as one transaction; `want` is what the rows in `scope` should be afterwards
  // (to tell a commit whose --wait=hv timed out from a failure).
  std::string Send(const ovn::Change& change, const ovn::Plan& want,
                   const std::optional<std::string>& scope);
  std::vector<std::string> LaggingChassis();
  std::string ActiveGateway(const Network& network);

  Config config_;
  bool used_ = false;  // the config has ovn networks or names ovn_northbound
  std::string northbound_, southbound_;
  std::optional<std::vector<ovn::DbRow>> rows_;
  std::optional<Southbound> south_;
  std::string south_error_;
};

// The southbound database of a northbound remote: ovnnb_db.sock -> ovnsb_db.sock, port 6641 ->
// 6642; "" when there is no such rule.
std::string DeriveSouthbound(const std::string& northbound);

}  // namespace virtnat
