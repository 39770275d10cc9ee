// `virtnat import libvirt-hook-qemu`: turns the port forwards of the libvirt-hook-qemu
// project into virtnat [[forward]] tables. Two formats are read:
//  - hooks.json: domain name -> an object (or a list of objects) with private_ip, public_ip,
//    interface, source_ip, port_map {"tcp": [port | [public, private], ...], "udp": [...]}
//    and port_range [{"init_port", "ports_num", "protocol"}];
//  - the older fork's config.json: public_ip, machines {name: {private_ip, port_map}},
//    networks.
// `//` and `/* */` comments are allowed outside strings, as the hook itself allowed them.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace virtnat {

struct ImportResult {
  std::string toml;  // header comment plus one [[forward]] per imported mapping
  // One line each, "FILE: domain NAME: KEY: ...": whatever could not be expressed. Nothing is
  // dropped without a line here; the same lines are repeated as comments in `toml`.
  std::vector<std::string> problems;
  std::size_t forwards = 0;
};

// Converts the text of hooks.json or config.json; `file_name` appears in messages, the header
// and each forward's description. Consecutive ports that map to consecutive ports become one
// ranged forward. Throws BadInput ("FILE:LINE: ..." or "FILE: ...") for malformed JSON or a
// document that is neither format.
ImportResult ImportLibvirtHookQemu(const std::string& text, const std::string& file_name);

// The text with every `//` and `/* */` comment outside strings replaced by spaces; newlines
// stay, so byte offsets and line numbers still match the original.
std::string BlankJsonComments(const std::string& text);

}  // namespace virtnat
