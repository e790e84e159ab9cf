// SPEC §2.1 step 1: who skips the checks.
//   - SASL-authenticated clients, listed clients and listed TLS client
//     certificates skip every check;
//   - listed recipients (postmaster@, abuse@) skip greylisting only: they are
//     still validated, so a backup MX does not accept mail for unknown users.
// Client entries: CIDR or address, ".suffix" (any name below it), an exact
// host name, or "/regex/" (matched against the client name and address).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "common/net/cidr.hpp"

namespace mailsan::policyd {

struct WhitelistConfig;

class ClientList {
 public:
  // Adds one entry; returns false and sets *error for an unparsable one.
  bool add(std::string_view entry, std::string* error);
  bool matches(const net::IpAddress* address, std::string_view address_text,
               std::string_view client_name) const;
  std::size_t size() const {
    return cidrs_.size() + suffixes_.size() + names_.size() + regexes_.size();
  }

 private:
  std::vector<net::Cidr> cidrs_;
  std::vector<std::string> suffixes_;  // ".example.net", lower case
  std::vector<std::string> names_;     // "mx.example.net", lower case
  std::vector<std::regex> regexes_;
};

class RecipientList {
 public:
  bool add(std::string_view entry, std::string* error);
  bool matches(std::string_view recipient) const;

 private:
  std::vector<std::string> local_parts_;  // "postmaster@"
  std::vector<std::string> domains_;      // "@example.com"
  std::vector<std::string> addresses_;    // "user@example.com"
};

// An immutable snapshot; a reload builds a new one.
struct Whitelist {
  bool sasl_authenticated = true;
  ClientList clients;
  RecipientList recipients;
  std::vector<std::string> ccert_fingerprints;  // lower case, no ':'

  bool fingerprint_listed(std::string_view fingerprint) const;

  // Builds from the config and the client files. Throws std::runtime_error
  // naming the entry (and file and line) that is wrong.
  static std::shared_ptr<const Whitelist> build(const WhitelistConfig& config);
};

// Reads a list file: one entry a line, '#' comments and blank lines ignored.
// Entries may also be separated by commas or spaces on one line.
std::vector<std::pair<int, std::string>> read_list_file(const std::filesystem::path& path);

// Remembers the client files' modification times so that a periodic check can
// rebuild the whitelist only when one changed.
class WhitelistFiles {
 public:
  explicit WhitelistFiles(std::vector<std::string> paths) : paths_(std::move(paths)) { changed(); }
  // True when any file's mtime or size differs from the last call.
  bool changed();

 private:
  std::vector<std::string> paths_;
  std::vector<std::pair<std::int64_t, std::int64_t>> stamps_;
};

}  // namespace mailsan::policyd
