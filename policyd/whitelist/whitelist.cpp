#include "policyd/whitelist/whitelist.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <stdexcept>

#include "common/util/ascii.hpp"
#include "policyd/policyd_config.hpp"

namespace mailsan::policyd {
namespace {

using util::iends_with;
using util::iequals;

std::string lower(std::string_view s) {
  return util::ascii_lower(s);
}

std::string normalize_fingerprint(std::string_view fp) {
  std::string out;
  for (char c : fp)
    if (c != ':') out += util::ascii_lower(c);
  return out;
}

}  // namespace

bool ClientList::add(std::string_view entry, std::string* error) {
  if (entry.empty()) return true;
  if (entry.size() >= 2 && entry.front() == '/' && entry.back() == '/') {
    try {
      regexes_.emplace_back(std::string(entry.substr(1, entry.size() - 2)),
                            std::regex::ECMAScript | std::regex::icase | std::regex::optimize);
    } catch (const std::regex_error& e) {
      *error = "bad regular expression " + std::string(entry) + ": " + e.what();
      return false;
    }
    return true;
  }
  if (auto cidr = net::Cidr::parse(entry)) {
    cidrs_.push_back(*cidr);
    return true;
  }
  if (entry.find('/') != std::string_view::npos || entry.find(':') != std::string_view::npos) {
    *error = "bad network " + std::string(entry);
    return false;
  }
  for (char c : entry) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') {
      *error = "bad host name " + std::string(entry);
      return false;
    }
  }
  if (entry.front() == '.')
    suffixes_.push_back(lower(entry));
  else
    names_.push_back(lower(entry));
  return true;
}

bool ClientList::matches(const net::IpAddress* address, std::string_view address_text,
                         std::string_view client_name) const {
  if (address) {
    const net::IpAddress plain = address->unmapped();
    for (const auto& c : cidrs_)
      if (c.contains(plain) || c.contains(*address)) return true;
  }
  // Postfix says "unknown" when the client has no verified name.
  const bool has_name = !client_name.empty() && client_name != "unknown";
  if (has_name) {
    for (const auto& s : suffixes_)
      if (iends_with(client_name, s)) return true;
    for (const auto& n : names_)
      if (iequals(client_name, n)) return true;
  }
  for (const auto& r : regexes_) {
    if (has_name && std::regex_search(client_name.begin(), client_name.end(), r)) return true;
    if (std::regex_search(address_text.begin(), address_text.end(), r)) return true;
  }
  return false;
}

bool RecipientList::add(std::string_view entry, std::string* error) {
  if (entry.empty()) return true;
  auto at = entry.find('@');
  if (at == std::string_view::npos || entry.find('@', at + 1) != std::string_view::npos) {
    *error = "recipient entry must be user@, @domain or user@domain: " + std::string(entry);
    return false;
  }
  if (at == 0)
    domains_.push_back(lower(entry));
  else if (at == entry.size() - 1)
    local_parts_.push_back(lower(entry));
  else
    addresses_.push_back(lower(entry));
  return true;
}

bool RecipientList::matches(std::string_view recipient) const {
  auto at = recipient.rfind('@');
  if (at == std::string_view::npos) return false;
  std::string_view local_with_at = recipient.substr(0, at + 1);
  std::string_view domain_with_at = recipient.substr(at);
  for (const auto& l : local_parts_)
    if (iequals(local_with_at, l)) return true;
  for (const auto& d : domains_)
    if (iequals(domain_with_at, d)) return true;
  for (const auto& a : addresses_)
    if (iequals(recipient, a)) return true;
  return false;
}

bool Whitelist::fingerprint_listed(std::string_view fingerprint) const {
  if (fingerprint.empty() || ccert_fingerprints.empty()) return false;
  std::string fp = normalize_fingerprint(fingerprint);
  return std::find(ccert_fingerprints.begin(), ccert_fingerprints.end(), fp) !=
         ccert_fingerprints.end();
}

std::shared_ptr<const Whitelist> Whitelist::build(const WhitelistConfig& config) {
  auto w = std::make_shared<Whitelist>();
  w->sasl_authenticated = config.sasl_authenticated;
  std::string error;
  for (const auto& e : config.clients)
    if (!w->clients.add(e, &error)) throw std::runtime_error("whitelist.clients: " + error);
  for (const auto& path : config.client_files) {
    for (const auto& [line, e] : read_list_file(path))
      if (!w->clients.add(e, &error))
        throw std::runtime_error(path + ":" + std::to_string(line) + ": " + error);
  }
  for (const auto& e : config.recipients)
    if (!w->recipients.add(e, &error)) throw std::runtime_error("whitelist.recipients: " + error);
  for (const auto& fp : config.ccert_fingerprints)
    w->ccert_fingerprints.push_back(normalize_fingerprint(fp));
  return w;
}

std::vector<std::pair<int, std::string>> read_list_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::vector<std::pair<int, std::string>> out;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::string entry;
    for (char c : line + " ") {
      if (c == ',' || std::isspace(static_cast<unsigned char>(c))) {
        if (!entry.empty()) out.emplace_back(number, std::move(entry));
        entry.clear();
      } else {
        entry += c;
      }
    }
  }
  return out;
}

bool WhitelistFiles::changed() {
  std::vector<std::pair<std::int64_t, std::int64_t>> now;
  for (const auto& p : paths_) {
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0)
      now.emplace_back(
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
          static_cast<std::int64_t>(st.st_size));
    else
      now.emplace_back(-1, -1);
  }
  bool differs = now != stamps_;
  stamps_ = std::move(now);
  return differs;
}

}  // namespace mailsan::policyd
