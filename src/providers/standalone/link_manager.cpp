#include "providers/standalone/link_manager.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <netlink/route/rtnl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

#include "base/errors.h"
#include "base/files.h"

namespace virtnat {
namespace {

constexpr const char* kIpForwardPath = "/proc/sys/net/ipv4/ip_forward";
constexpr const char* kIpv6ForwardPath = "/proc/sys/net/ipv6/conf/all/forwarding";
// The route protocol the kernel gives routes learned from router advertisements.
constexpr int kRouteProtocolRa = 9;  // RTPROT_RA
// STP refuses a forward delay under 2 s; in clock ticks of USER_HZ (100).
constexpr std::uint32_t kBridgeForwardDelay = 200;

// Owners of libnl objects, so every early throw frees them.
struct LinkPut {
  void operator()(rtnl_link* link) const { rtnl_link_put(link); }
};
struct AddrPut {
  void operator()(rtnl_addr* address) const { rtnl_addr_put(address); }
};
struct NlAddrPut {
  void operator()(nl_addr* address) const { nl_addr_put(address); }
};
struct CachePut {
  void operator()(nl_cache* cache) const { nl_cache_free(cache); }
};
struct MsgPut {
  void operator()(nl_msg* message) const { nlmsg_free(message); }
};
using LinkPtr = std::unique_ptr<rtnl_link, LinkPut>;
using AddrPtr = std::unique_ptr<rtnl_addr, AddrPut>;
using NlAddrPtr = std::unique_ptr<nl_addr, NlAddrPut>;

void Check(int error, const std::string& what) {
  if (error < 0) throw RuntimeFailure(fmt::format("{}: {}", what, nl_geterror(error)));
}

NlAddrPtr MacToNl(const MacAddress& mac) {
  return NlAddrPtr(nl_addr_build(AF_LLC, mac.bytes.data(), mac.bytes.size()));
}

NlAddrPtr Ipv4ToNl(const Ipv4Address& address, int prefix_length) {
  std::uint32_t network_order = htonl(address.value);
  NlAddrPtr result(nl_addr_build(AF_INET, &network_order, sizeof network_order));
  if (result) nl_addr_set_prefixlen(result.get(), prefix_length);
  return result;
}

// An address object naming `address` on link `index`, for add and delete.
AddrPtr MakeAddress(int index, const Ipv4Interface& address) {
  AddrPtr result(rtnl_addr_alloc());
  NlAddrPtr local = Ipv4ToNl(address.address, address.length);
  if (!result || !local) throw RuntimeFailure("out of memory building a netlink address");
  rtnl_addr_set_ifindex(result.get(), index);
  rtnl_addr_set_family(result.get(), AF_INET);
  rtnl_addr_set_local(result.get(), local.get());
  rtnl_addr_set_prefixlen(result.get(), address.length);
  Ipv4Prefix subnet = address.Subnet();
  NlAddrPtr broadcast = Ipv4ToNl(Ipv4Address{subnet.network.value | ~subnet.Mask()}, 32);
  if (broadcast && address.length < 31) rtnl_addr_set_broadcast(result.get(), broadcast.get());
  return result;
}

NlAddrPtr Ipv6ToNl(const Ipv6Address& address, int prefix_length) {
  NlAddrPtr result(nl_addr_build(AF_INET6, address.bytes.data(), address.bytes.size()));
  if (result) nl_addr_set_prefixlen(result.get(), prefix_length);
  return result;
}

AddrPtr MakeAddress6(int index, const Ipv6Interface& address) {
  AddrPtr result(rtnl_addr_alloc());
  NlAddrPtr local = Ipv6ToNl(address.address, address.length);
  if (!result || !local) throw RuntimeFailure("out of memory building a netlink address");
  rtnl_addr_set_ifindex(result.get(), index);
  rtnl_addr_set_family(result.get(), AF_INET6);
  rtnl_addr_set_local(result.get(), local.get());
  rtnl_addr_set_prefixlen(result.get(), address.length);
  return result;
}

void WriteProcSetting(const std::string& path, const std::string& value) {
  std::ofstream file(path);
  file << value << "\n";
  file.flush();
  if (!file) throw RuntimeFailure(fmt::format("cannot write {} to {}", value, path));
}

// A persistent TAP device with no process attached: what libvirt used for "virbr0-nic" before
// dummy links, and the fallback for kernels built without the dummy driver.
void CreatePersistentTap(const std::string& name) {
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0)
    throw RuntimeFailure(
        fmt::format("cannot create {}: the kernel has no dummy driver and "
                    "/dev/net/tun cannot be opened: {}",
                    name, std::strerror(errno)));
  ifreq request{};
  name.copy(request.ifr_name, IFNAMSIZ - 1);
  request.ifr_flags = IFF_TAP | IFF_NO_PI;
  bool ok = ioctl(fd, TUNSETIFF, &request) == 0 && ioctl(fd, TUNSETPERSIST, 1) == 0;
  int saved = errno;
  close(fd);
  if (!ok)
    throw RuntimeFailure(
        fmt::format("cannot create TAP device {}: {}", name, std::strerror(saved)));
}

}  // namespace

bool IsDummyNicKind(const std::string& kind) {
  return kind == "dummy" || kind == "tun";
}

LinkManager::LinkManager() {
  socket_ = nl_socket_alloc();
  if (socket_ == nullptr) throw RuntimeFailure("cannot allocate a netlink socket");
  int error = nl_connect(socket_, NETLINK_ROUTE);
  if (error < 0) {
    nl_socket_free(socket_);
    throw RuntimeFailure(fmt::format("cannot open a netlink socket: {}", nl_geterror(error)));
  }
}

LinkManager::~LinkManager() {
  nl_socket_free(socket_);
}

std::optional<LinkFacts> LinkManager::Find(const std::string& name) {
  rtnl_link* raw = nullptr;
  int error = rtnl_link_get_kernel(socket_, 0, name.c_str(), &raw);
  if (error == -NLE_OBJ_NOTFOUND || error == -NLE_NODEV) return std::nullopt;
  Check(error, fmt::format("cannot read link {}", name));
  LinkPtr link(raw);
  LinkFacts facts;
  facts.index = rtnl_link_get_ifindex(link.get());
  if (const char* kind = rtnl_link_get_type(link.get())) facts.kind = kind;
  if (nl_addr* mac = rtnl_link_get_addr(link.get());
      mac != nullptr && nl_addr_get_len(mac) == facts.mac.bytes.size())
    std::memcpy(facts.mac.bytes.data(), nl_addr_get_binary_addr(mac), facts.mac.bytes.size());
  facts.up = (rtnl_link_get_flags(link.get()) & IFF_UP) != 0;
  facts.master_index = rtnl_link_get_master(link.get());
  if (const char* alias = rtnl_link_get_ifalias(link.get())) facts.alias = alias;
  return facts;
}

int LinkManager::IndexOf(const std::string& name) {
  auto facts = Find(name);
  if (!facts) throw RuntimeFailure(fmt::format("no link named {}", name));
  return facts->index;
}

void LinkManager::SendBridgeRequest(const std::string& name, int index,
                                    const std::optional<MacAddress>& mac, bool stp) {
  // libnl-route 3.7 has no setter for the bridge's STP attributes: build the request by hand.
  std::unique_ptr<nl_msg, MsgPut> message(
      nlmsg_alloc_simple(RTM_NEWLINK, index == 0 ? NLM_F_CREATE | NLM_F_EXCL : 0));
  if (!message) throw RuntimeFailure("out of memory building a netlink request");
  ifinfomsg header{};
  header.ifi_family = AF_UNSPEC;
  header.ifi_index = index;
  nl_msg* msg = message.get();
  bool built = nlmsg_append(msg, &header, sizeof header, NLMSG_ALIGNTO) == 0 &&
               nla_put_string(msg, IFLA_IFNAME, name.c_str()) == 0 &&
               (!mac || nla_put(msg, IFLA_ADDRESS, mac->bytes.size(), mac->bytes.data()) == 0);
  nlattr* link_info = built ? nla_nest_start(msg, IFLA_LINKINFO) : nullptr;
  built = link_info != nullptr && nla_put_string(msg, IFLA_INFO_KIND, "bridge") == 0;
  nlattr* data = built ? nla_nest_start(msg, IFLA_INFO_DATA) : nullptr;
  // The kernel applies the forward delay before switching STP on, which then accepts it.
  // Without STP a port forwards at once whatever the delay: only the state is sent.
  built = data != nullptr &&
          (!stp || nla_put_u32(msg, IFLA_BR_FORWARD_DELAY, kBridgeForwardDelay) == 0) &&
          nla_put_u32(msg, IFLA_BR_STP_STATE, stp ? 1 : 0) == 0;
  if (!built) throw RuntimeFailure("cannot build the netlink request for bridge " + name);
  nla_nest_end(msg, data);
  nla_nest_end(msg, link_info);
  int error = nl_send_auto(socket_, msg);
  if (error >= 0) error = nl_wait_for_ack(socket_);
  Check(error, fmt::format("cannot {} bridge {}", index == 0 ? "create" : "configure", name));
}

bool LinkManager::EnsureBridge(const std::string& name, const MacAddress& mac) {
  auto facts = Find(name);
  if (facts && facts->kind != "bridge")
    throw RuntimeFailure(fmt::format("{} exists and is not a bridge ({})", name,
                                     facts->kind.empty() ? "a plain device" : facts->kind));
  if (!facts) {
    SendBridgeRequest(name, 0, mac);
    return true;
  }
  SendBridgeRequest(name, facts->index,
                    facts->mac == mac ? std::nullopt : std::optional<MacAddress>(mac));
  return false;
}

void LinkManager::CreateBridge(const std::string& name, const std::optional<MacAddress>& mac,
                               bool stp) {
  SendBridgeRequest(name, 0, mac, stp);
}

bool LinkManager::EnsureDummy(const std::string& name, const MacAddress& mac) {
  auto facts = Find(name);
  if (facts && !IsDummyNicKind(facts->kind))
    throw RuntimeFailure(fmt::format("{} exists and is not a dummy NIC ({})", name,
                                     facts->kind.empty() ? "a plain device" : facts->kind));
  bool created = false;
  if (!facts) {
    LinkPtr link(rtnl_link_alloc());
    NlAddrPtr address = MacToNl(mac);
    if (!link || !address) throw RuntimeFailure("out of memory building a netlink link");
    rtnl_link_set_name(link.get(), name.c_str());
    rtnl_link_set_addr(link.get(), address.get());
    Check(rtnl_link_set_type(link.get(), "dummy"), "cannot set link type dummy");
    int error = rtnl_link_add(socket_, link.get(), NLM_F_CREATE | NLM_F_EXCL);
    if (error != -NLE_OPNOTSUPP) {
      Check(error, fmt::format("cannot create dummy NIC {}", name));
      return true;
    }
    CreatePersistentTap(name);  // its MAC is set below
    created = true;
    facts = Find(name);
    if (!facts) throw RuntimeFailure(fmt::format("TAP device {} vanished", name));
  }
  if (facts->mac != mac) SetMac(facts->index, name, mac);
  return created;
}

void LinkManager::SetMac(int index, const std::string& name, const MacAddress& mac) {
  rtnl_link* raw = nullptr;
  Check(rtnl_link_get_kernel(socket_, index, nullptr, &raw),
        fmt::format("cannot read link {}", name));
  LinkPtr original(raw);
  LinkPtr change(rtnl_link_alloc());
  NlAddrPtr address = MacToNl(mac);
  if (!change || !address) throw RuntimeFailure("out of memory building a netlink link");
  rtnl_link_set_addr(change.get(), address.get());
  Check(rtnl_link_change(socket_, original.get(), change.get(), 0),
        fmt::format("cannot set the MAC of {}", name));
}

void LinkManager::SetMaster(const std::string& name, const std::string& master) {
  int index = IndexOf(name);
  if (master.empty()) {
    Check(rtnl_link_release_ifindex(socket_, index), fmt::format("cannot release {}", name));
    return;
  }
  Check(rtnl_link_enslave_ifindex(socket_, IndexOf(master), index),
        fmt::format("cannot enslave {} to {}", name, master));
}

void LinkManager::SetUp(const std::string& name) {
  rtnl_link* raw = nullptr;
  Check(rtnl_link_get_kernel(socket_, 0, name.c_str(), &raw),
        fmt::format("cannot read link {}", name));
  LinkPtr original(raw);
  LinkPtr change(rtnl_link_alloc());
  if (!change) throw RuntimeFailure("out of memory building a netlink link");
  rtnl_link_set_flags(change.get(), IFF_UP);
  Check(rtnl_link_change(socket_, original.get(), change.get(), 0),
        fmt::format("cannot bring {} up", name));
}

void LinkManager::SetAlias(const std::string& name, const std::string& alias) {
  rtnl_link* raw = nullptr;
  Check(rtnl_link_get_kernel(socket_, 0, name.c_str(), &raw),
        fmt::format("cannot read link {}", name));
  LinkPtr original(raw);
  LinkPtr change(rtnl_link_alloc());
  if (!change) throw RuntimeFailure("out of memory building a netlink link");
  rtnl_link_set_ifalias(change.get(), alias.c_str());
  Check(rtnl_link_change(socket_, original.get(), change.get(), 0),
        fmt::format("cannot set the alias of {}", name));
}

std::string LinkManager::NameOf(int index) {
  rtnl_link* raw = nullptr;
  if (index <= 0 || rtnl_link_get_kernel(socket_, index, nullptr, &raw) < 0) return "";
  LinkPtr link(raw);
  const char* name = rtnl_link_get_name(link.get());
  return name ? name : "";
}

std::vector<Ipv4Interface> LinkManager::Ipv4Addresses(const std::string& name) {
  int index = IndexOf(name);
  nl_cache* raw = nullptr;
  Check(rtnl_addr_alloc_cache(socket_, &raw), "cannot read the addresses");
  std::unique_ptr<nl_cache, CachePut> cache(raw);
  std::vector<Ipv4Interface> addresses;
  for (nl_object* object = nl_cache_get_first(raw); object != nullptr;
       object = nl_cache_get_next(object)) {
    auto* address = reinterpret_cast<rtnl_addr*>(object);
    if (rtnl_addr_get_ifindex(address) != index || rtnl_addr_get_family(address) != AF_INET)
      continue;
    nl_addr* local = rtnl_addr_get_local(address);
    if (local == nullptr || nl_addr_get_len(local) != 4) continue;
    std::uint32_t network_order = 0;
    std::memcpy(&network_order, nl_addr_get_binary_addr(local), 4);
    addresses.push_back({Ipv4Address{ntohl(network_order)}, rtnl_addr_get_prefixlen(address)});
  }
  return addresses;
}

void LinkManager::AddIpv4Address(const std::string& name, const Ipv4Interface& address) {
  AddrPtr request = MakeAddress(IndexOf(name), address);
  Check(rtnl_addr_add(socket_, request.get(), 0),
        fmt::format("cannot add {} to {}", address.ToString(), name));
}

void LinkManager::DeleteIpv4Address(const std::string& name, const Ipv4Interface& address) {
  AddrPtr request = MakeAddress(IndexOf(name), address);
  Check(rtnl_addr_delete(socket_, request.get(), 0),
        fmt::format("cannot remove {} from {}", address.ToString(), name));
}

std::vector<Ipv6Interface> LinkManager::Ipv6Addresses(const std::string& name) {
  int index = IndexOf(name);
  nl_cache* raw = nullptr;
  Check(rtnl_addr_alloc_cache(socket_, &raw), "cannot read the addresses");
  std::unique_ptr<nl_cache, CachePut> cache(raw);
  std::vector<Ipv6Interface> addresses;
  for (nl_object* object = nl_cache_get_first(raw); object != nullptr;
       object = nl_cache_get_next(object)) {
    auto* address = reinterpret_cast<rtnl_addr*>(object);
    if (rtnl_addr_get_ifindex(address) != index || rtnl_addr_get_family(address) != AF_INET6 ||
        rtnl_addr_get_scope(address) != RT_SCOPE_UNIVERSE)
      continue;
    nl_addr* local = rtnl_addr_get_local(address);
    if (local == nullptr || nl_addr_get_len(local) != 16) continue;
    Ipv6Interface found;
    std::memcpy(found.address.bytes.data(), nl_addr_get_binary_addr(local), 16);
    found.length = rtnl_addr_get_prefixlen(address);
    addresses.push_back(found);
  }
  return addresses;
}

void LinkManager::AddIpv6Address(const std::string& name, const Ipv6Interface& address) {
  AddrPtr request = MakeAddress6(IndexOf(name), address);
  rtnl_addr_set_flags(request.get(), IFA_F_NODAD);
  Check(rtnl_addr_add(socket_, request.get(), 0),
        fmt::format("cannot add {} to {}", address.ToString(), name));
}

void LinkManager::DeleteIpv6Address(const std::string& name, const Ipv6Interface& address) {
  AddrPtr request = MakeAddress6(IndexOf(name), address);
  Check(rtnl_addr_delete(socket_, request.get(), 0),
        fmt::format("cannot remove {} from {}", address.ToString(), name));
}

std::vector<std::string> LinkManager::InterfacesDependingOnRouterAdvertisements() {
  nl_cache* raw = nullptr;
  Check(rtnl_route_alloc_cache(socket_, AF_INET6, 0, &raw), "cannot read the IPv6 routes");
  std::unique_ptr<nl_cache, CachePut> cache(raw);
  std::vector<std::string> names;
  for (nl_object* object = nl_cache_get_first(raw); object != nullptr;
       object = nl_cache_get_next(object)) {
    auto* route = reinterpret_cast<rtnl_route*>(object);
    if (rtnl_route_get_protocol(route) != kRouteProtocolRa) continue;
    for (int i = 0; i < rtnl_route_get_nnexthops(route); ++i) {
      std::string name = NameOf(rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(route, i)));
      if (name.empty() || std::find(names.begin(), names.end(), name) != names.end()) continue;
      auto accept_ra = ReadIpv6Setting(name, "accept_ra");
      if (accept_ra && accept_ra->starts_with("1")) names.push_back(name);
    }
  }
  return names;
}

bool LinkManager::Delete(const std::string& name) {
  auto facts = Find(name);
  if (!facts) return false;
  LinkPtr link(rtnl_link_alloc());
  if (!link) throw RuntimeFailure("out of memory building a netlink link");
  rtnl_link_set_ifindex(link.get(), facts->index);
  int error = rtnl_link_delete(socket_, link.get());
  if (error == -NLE_OBJ_NOTFOUND || error == -NLE_NODEV) return false;  // gone meanwhile
  Check(error, fmt::format("cannot delete {}", name));
  return true;
}

bool Ipv4ForwardingEnabled() {
  auto value = ReadFileIfExists(kIpForwardPath);
  return value && !value->empty() && (*value)[0] == '1';
}

void EnableIpv4Forwarding() {
  WriteProcSetting(kIpForwardPath, "1");
}

bool Ipv6ForwardingEnabled() {
  auto value = ReadFileIfExists(kIpv6ForwardPath);
  return value && !value->empty() && (*value)[0] == '1';
}

void EnableIpv6Forwarding() {
  WriteProcSetting(kIpv6ForwardPath, "1");
}

std::optional<std::string> ReadIpv6Setting(const std::string& name, const std::string& setting) {
  auto value = ReadFileIfExists(fmt::format("/proc/sys/net/ipv6/conf/{}/{}", name, setting));
  if (value)
    while (!value->empty() && value->back() == '\n') value->pop_back();
  return value;
}

void WriteIpv6Setting(const std::string& name, const std::string& setting,
                      const std::string& value) {
  WriteProcSetting(fmt::format("/proc/sys/net/ipv6/conf/{}/{}", name, setting), value);
}

}  // namespace virtnat
