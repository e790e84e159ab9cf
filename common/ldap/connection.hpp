// One libldap connection (LDAP*), owned. Used only from the Directory's
// worker threads: every call here blocks for up to the configured timeout.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/ldap/directory.hpp"

typedef struct ldap LDAP;

namespace mailsan::ldap {

class Connection {
 public:
  // Connects, optionally runs StartTLS and binds. Returns null and sets
  // error when any step fails; the caller reports that search as unavailable.
  static std::unique_ptr<Connection> open(const Options& options, std::string& error);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  struct Outcome {
    SearchResult result;
    // The connection is no longer usable (server gone, timed out): the
    // worker drops it and connects afresh for the next search.
    bool broken = false;
    // The server had closed the connection before this search: worth one
    // retry on a fresh connection, unlike a timeout.
    bool closed = false;
  };
  Outcome search(const std::string& base, const std::string& filter,
                 const std::vector<std::string>& attributes, std::chrono::milliseconds timeout);

 private:
  explicit Connection(LDAP* ld) : ld_(ld) {}
  LDAP* ld_;
};

}  // namespace mailsan::ldap
