// provider = "libvirt": networks defined in libvirt through its C API (network_manager.h), and
// libvirt's domains as the VM inventory that forwards follow.
#pragma once

#include <memory>
#include <string>

#include "engine/network_driver.h"
#include "providers/libvirt/libvirt_client.h"

namespace virtnat {

// One connection to libvirt, opened when first needed and shared by the driver and the
// inventory.
class LibvirtSession {
 public:
  explicit LibvirtSession(std::string uri) : uri_(std::move(uri)) {}
  LibvirtClient& Client();  // throws RuntimeFailure when libvirtd cannot be reached
  const std::string& uri() const { return uri_; }

 private:
  std::string uri_;
  std::unique_ptr<LibvirtClient> client_;
};

class LibvirtDriver : public NetworkDriver {
 public:
  explicit LibvirtDriver(std::shared_ptr<LibvirtSession> session) : session_(std::move(session)) {}
  void Prepare(const Config& config, const std::vector<const Network*>& networks) override;
  std::vector<std::string> Realise(const Config& config,
                                   const std::vector<const Network*>& networks) override;
  // libvirt itself restarts what it runs: watch has nothing to repair.
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

 private:
  std::shared_ptr<LibvirtSession> session_;
};

// Whether the config needs libvirt's domains (vm_lifecycle = "libvirt", or libvirt networks).
bool LibvirtFollowsVms(const Config& config);

class LibvirtVmInventory : public VmInventory {
 public:
  explicit LibvirtVmInventory(std::shared_ptr<LibvirtSession> session)
      : session_(std::move(session)) {}
  RunningDomains Running(const Config& config) override;
  std::vector<VmInfo> List() override;
  void Follow(VmEventSink& sink, const std::atomic<bool>& stop) override;

 private:
  std::shared_ptr<LibvirtSession> session_;
  struct _virConnect* following_ = nullptr;  // the connection Follow holds, for Running
};

}  // namespace virtnat
