#include "providers/libvirt/libvirt_driver.h"

#include <fmt/format.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "base/errors.h"
#include "providers/external/external_driver.h"
#include "providers/libvirt/domain_events.h"
#include "providers/libvirt/domain_interfaces.h"
#include "providers/libvirt/domain_xml.h"
#include "providers/libvirt/network_manager.h"
#include "providers/libvirt/network_xml.h"

namespace virtnat {

LibvirtClient& LibvirtSession::Client() {
  if (!client_) client_ = std::make_unique<LibvirtClient>(uri_);
  return *client_;
}

bool LibvirtFollowsVms(const Config& config) {
  return ConfigNeedsLibvirt(config);
}

void LibvirtDriver::Prepare(const Config&, const std::vector<const Network*>& networks) {
  for (const Network* network : networks)
    if (network->define) session_->Client();  // networks to define need libvirtd now
}

std::vector<std::string> LibvirtDriver::Realise(const Config& config,
                                                const std::vector<const Network*>& networks) {
  if (networks.empty()) return {};
  LibvirtClient* client = nullptr;
  try {
    client = &session_->Client();
  } catch (const RuntimeFailure&) {
    // Only networks virtnat does not define (Prepare let it pass): nothing to do without
    // libvirtd, and the forwards to their hosts still work.
    for (const Network* network : networks)
      if (network->define) throw;
    return {};
  }
  return ApplyLibvirtNetworks(*client, config);
}

std::string LibvirtDriver::State(const Network& network) {
  return BridgeState(network);
}

namespace {
void RequireDefined(const Network& network, const std::string& action) {
  if (!network.define)
    throw BadInput(fmt::format(
        "virtnat: network '{}' is not defined by virtnat (provider libvirt, define = false); "
        "virtnat does not {} it",
        network.name, action));
}
}  // namespace

std::vector<std::string> LibvirtDriver::Start(const Config& config, const Network& network) {
  RequireDefined(network, "start");
  return StartLibvirtNetwork(session_->Client(), config, network);
}

std::vector<std::string> LibvirtDriver::Stop(const Network& network, bool undefine) {
  RequireDefined(network, undefine ? "undefine" : "stop");
  return StopLibvirtNetwork(session_->Client(), network, undefine);
}

std::string LibvirtDriver::Status(const Network& network) {
  LibvirtClient& client = session_->Client();
  auto state = client.FindNetwork(network.name);
  if (!state) return fmt::format("network {}: not defined in libvirt", network.name);
  std::string drift;
  if (network.define) {
    auto have = ParseNetworkFacts(client.NetworkXml(network.name));
    auto want = DesiredNetworkFacts(network);
    drift = have.SameShape(want) && have.SameHosts(want)
                ? "matches the config"
                : "differs from the config (run `virtnat apply`)";
  }
  return fmt::format("network {}: {}, autostart {}, bridge {}{}{}", network.name,
                     state->active ? "active" : "inactive", state->autostart ? "on" : "off",
                     state->bridge, drift.empty() ? "" : ", ", drift);
}

std::string LibvirtDriver::Definition(const Network& network) {
  return RenderNetworkXml(network);
}

std::vector<NetworkLease> LibvirtDriver::Leases(const Network& network) {
  std::vector<NetworkLease> leases;
  for (const auto& lease : session_->Client().Leases(network.name))
    leases.push_back({lease.expiry, lease.mac, lease.address, lease.hostname, lease.client_id});
  return leases;
}

std::vector<ProviderNetwork> LibvirtDriver::ListNetworks() {
  std::vector<ProviderNetwork> networks;
  for (const auto& state : session_->Client().ListNetworks())
    networks.push_back({state.name, "libvirt", state.active, state.autostart, state.bridge});
  return networks;
}

// Where libvirt looks for the network hook that rebuilds a bridged network's bridge at boot.
static constexpr const char* kNetworkHookPath = "/etc/libvirt/hooks/network.d/virtnat";

std::vector<std::string> LibvirtDriver::Warnings(const Config& config) {
  // A bridged libvirt network's bridge is rebuilt at boot by the network hook only (libvirtd
  // autostarts networks before virtnat.service runs): say so while it can still be fixed.
  std::vector<std::string> warnings;
  std::error_code error;
  if (std::filesystem::exists(kNetworkHookPath, error)) return warnings;
  for (const auto& network : config.networks)
    if (network.provider == NetworkProvider::kLibvirt && network.define &&
        network.mode == NetworkMode::kBridged)
      warnings.push_back(
          fmt::format("network {}: {} is not installed, so after a reboot libvirt starts {} "
                      "without its bridge {} and its VMs fail; run `virtnat hook install`",
                      network.name, kNetworkHookPath, network.name, network.bridge));
  return warnings;
}

RunningDomains LibvirtVmInventory::Running(const Config& config) {
  if (following_) {
    LibvirtClient client(following_);
    return RunningDomainsFromLibvirt(client, config);
  }
  return RunningDomainsFromLibvirt(session_->Client(), config);
}

std::vector<VmInfo> LibvirtVmInventory::List() {
  return ReadDomainInterfaces(session_->uri());
}

namespace {

// libvirt prints every error to stderr by default; watch logs what matters itself, once.
void IgnoreLibvirtError(void*, virErrorPtr) {}

std::string LastLibvirtError() {
  virErrorPtr error = virGetLastError();
  return error && error->message ? error->message : "unknown error";
}

int OnDomainEvent(virConnectPtr, virDomainPtr domain, int event, int, void* opaque) {
  auto* sink = static_cast<VmEventSink*>(opaque);
  DomainChange change = DomainChangeOf(event);
  if (change == DomainChange::kNone) return 0;
  std::set<std::string> macs;
  if (char* xml = virDomainGetXMLDesc(domain, 0)) {
    try {
      macs = ParseDomainXml(xml, "libvirt").macs;
    } catch (const std::exception&) {
    }
    free(xml);
  }
  sink->DomainChanged(virDomainGetName(domain), change == DomainChange::kStarted, macs);
  return 0;
}

int OnNetworkEvent(virConnectPtr, virNetworkPtr network, int event, int, void* opaque) {
  if (event == VIR_NETWORK_EVENT_STARTED)
    static_cast<VmEventSink*>(opaque)->NetworkStarted(virNetworkGetName(network));
  return 0;
}

void OnTimer(int, void* opaque) {
  static_cast<VmEventSink*>(opaque)->Tick();
}

}  // namespace

void LibvirtVmInventory::Follow(VmEventSink& sink, const std::atomic<bool>& stop) {
  virEventRegisterDefaultImpl();
  virSetErrorFunc(nullptr, IgnoreLibvirtError);
  const std::string& uri = session_->uri();
  bool said_unreachable = false;
  while (!stop) {
    virConnectPtr connection = virConnectOpen(uri.c_str());
    if (!connection) {
      // Once per outage, not every retry.
      if (!said_unreachable)
        sink.Log(
            fmt::format("cannot connect to {} ({}); retrying every 2 s, nftables repairs go on",
                        uri, LastLibvirtError()));
      said_unreachable = true;
      for (int i = 0; i < 20 && !stop; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    said_unreachable = false;
    sink.Log(fmt::format("connected to {}", uri));
    int domain_callback =
        virConnectDomainEventRegisterAny(connection, nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                         VIR_DOMAIN_EVENT_CALLBACK(OnDomainEvent), &sink, nullptr);
    int network_callback = virConnectNetworkEventRegisterAny(
        connection, nullptr, VIR_NETWORK_EVENT_ID_LIFECYCLE,
        VIR_NETWORK_EVENT_CALLBACK(OnNetworkEvent), &sink, nullptr);
    virConnectSetKeepAlive(connection, 2, 3);
    following_ = connection;
    sink.Connected();
    // libvirt sends no event for a domain that it finds dead while it reconnects to its
    // domains after a restart, nor for anything that happens while nobody is connected: the
    // sink gets a tick every second to compare the running VMs.
    int timer = virEventAddTimeout(1000, OnTimer, &sink, nullptr);
    while (!stop && virConnectIsAlive(connection) == 1) virEventRunDefaultImpl();
    if (timer >= 0) virEventRemoveTimeout(timer);
    following_ = nullptr;
    if (domain_callback >= 0) virConnectDomainEventDeregisterAny(connection, domain_callback);
    if (network_callback >= 0) virConnectNetworkEventDeregisterAny(connection, network_callback);
    virConnectClose(connection);
    if (!stop) sink.Log("lost the connection to libvirt; reconnecting");
  }
}

}  // namespace virtnat
