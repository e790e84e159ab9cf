// Filling an Envelope from XFORWARD (see envelope.hpp).
#include "contentfilter/message/envelope.hpp"

namespace mailsan::filter {

void add_xforward(Envelope& envelope, std::vector<smtp::XforwardAttribute> attributes) {
  for (auto& a : attributes) {
    if (a.name == "NAME") envelope.client_name = a.value;
    if (a.name == "ADDR") envelope.client_address = a.value;
    if (a.name == "HELO") envelope.client_helo = a.value;
    if (a.name == "PROTO") envelope.protocol = a.value;
    bool replaced = false;
    for (auto& old : envelope.xforward)
      if (old.name == a.name) {
        old.value = a.value;
        replaced = true;
      }
    if (!replaced) envelope.xforward.push_back(std::move(a));
  }
}

std::vector<std::pair<std::string, std::string>> xforward_attributes(const Envelope& envelope) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& a : envelope.xforward) out.emplace_back(a.name, a.value);
  if (!out.empty()) return out;
  if (!envelope.client_name.empty()) out.emplace_back("NAME", envelope.client_name);
  if (!envelope.client_address.empty()) out.emplace_back("ADDR", envelope.client_address);
  if (!envelope.protocol.empty()) out.emplace_back("PROTO", envelope.protocol);
  if (!envelope.client_helo.empty()) out.emplace_back("HELO", envelope.client_helo);
  return out;
}

}  // namespace mailsan::filter
