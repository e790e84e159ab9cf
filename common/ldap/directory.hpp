// LDAP lookups for the daemons. libldap's synchronous API runs on a small,
// bounded pool of worker threads, each with its own connection (reused, and
// re-established after a failure); results are posted back to the caller's
// executor, so the I/O thread never blocks on the directory.
//
// ldap://, ldaps:// and StartTLS; a bind DN with the password read from a
// file; a timeout per operation.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mailsan::ldap {

// RFC 4515: every value put into a filter goes through this, so that '*',
// '(', ')', '\' and NUL in an address match literally. Control and
// non-ASCII bytes are hex-escaped as well.
// Escaping is not validation: slapd's IA5 matching rules (mailLocalAddress)
// end a value at the first NUL and ignore surrounding spaces, so
// "jclark@example.test\0x" finds jclark. Refuse addresses with control
// bytes before looking them up.
std::string escape_filter_value(std::string_view value);

// Replaces each "%s" in filter with the escaped value.
std::string make_filter(std::string_view filter, std::string_view value);

struct Options {
  std::string uri = "ldap://127.0.0.1:389";  // ldap://, ldaps://; several separated by spaces
  bool starttls = false;
  std::string bind_dn;                      // empty: anonymous
  std::string password_file;                // first line is the bind password
  std::chrono::milliseconds timeout{3000};  // per search, and for connecting
  std::size_t workers = 2;                  // threads, each with one connection
  // Searches waiting for a free worker; one more is refused at once as
  // unavailable with error "busy" rather than queued behind a slow server.
  std::size_t queue_limit = 1000;
};

using Entry = std::map<std::string, std::vector<std::string>>;  // attribute -> values

struct SearchResult {
  enum class Status { ok, unavailable };  // ok: entries may be empty (nothing matched)
  Status status = Status::unavailable;
  std::vector<Entry> entries;
  std::string error;  // for unavailable: why (connect, bind, timeout, server error)
};

class Directory {
 public:
  Directory(boost::asio::any_io_executor ex, Options options);
  ~Directory();  // joins the workers; searches still queued complete as unavailable
  Directory(const Directory&) = delete;
  Directory& operator=(const Directory&) = delete;

  // Subtree search under base. Never throws. A caller whose cancellation
  // slot fires gets unavailable at once; the worker's result is dropped.
  boost::asio::awaitable<SearchResult> search(std::string base, std::string filter,
                                              std::vector<std::string> attributes);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mailsan::ldap
