// libldap's synchronous API on one connection. Every failure becomes a
// SearchResult with status unavailable and a readable reason; nothing throws
// out of here except std::bad_alloc.
#include "common/ldap/connection.hpp"

#include <ldap.h>
#include <strings.h>
#include <sys/time.h>

#include <algorithm>
#include <cctype>
#include <fstream>

namespace mailsan::ldap {

namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  if (ms.count() < 1) ms = std::chrono::milliseconds(1);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

// The server's own explanation ("invalid DN", "no such user") is often more
// useful in a log than the generic text for the result code.
std::string describe(LDAP* ld, int rc) {
  std::string text = ldap_err2string(rc);
  char* diagnostic = nullptr;
  if (ld != nullptr && ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diagnostic) == 0 &&
      diagnostic != nullptr) {
    if (*diagnostic != '\0') text += std::string(" (") + diagnostic + ")";
    ldap_memfree(diagnostic);
  }
  return text;
}

bool read_password(const std::string& path, std::string& password) {
  std::ifstream in(path);
  if (!in) return false;
  std::getline(in, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  return true;
}

// Codes after which the connection itself is suspect. Client-side errors
// are negative in libldap (server down, timeout, connect error, ...).
bool breaks_connection(int rc) {
  return rc < 0 || rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY || rc == LDAP_UNWILLING_TO_PERFORM;
}

struct MessageFree {
  void operator()(LDAPMessage* m) const { ldap_msgfree(m); }
};

}  // namespace

std::unique_ptr<Connection> Connection::open(const Options& options, std::string& error) {
  LDAP* raw = nullptr;
  int rc = ldap_initialize(&raw, options.uri.c_str());
  if (rc != LDAP_SUCCESS) {
    error = "ldap_initialize(" + options.uri + "): " + ldap_err2string(rc);
    if (raw != nullptr) ldap_unbind_ext_s(raw, nullptr, nullptr);
    return nullptr;
  }
  std::unique_ptr<Connection> connection(new Connection(raw));
  LDAP* ld = connection->ld_;

  int version = LDAP_VERSION3;
  const timeval tv = to_timeval(options.timeout);
  ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
  ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
  ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
  // A signal arriving in the middle of a select() must not fail the search.
  ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_ON);
  // Referrals would be chased with fresh anonymous connections and no
  // timeout of ours; a recipient lookup wants this server's answer only.
  ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);

  // Connect now rather than inside the first search, so that a server that
  // is down is reported as a connect error.
  rc = ldap_connect(ld);
  if (rc != LDAP_SUCCESS) {
    error = "connect to " + options.uri + ": " + describe(ld, rc);
    return nullptr;
  }
  if (options.starttls) {
    rc = ldap_start_tls_s(ld, nullptr, nullptr);
    if (rc != LDAP_SUCCESS) {
      error = "StartTLS with " + options.uri + ": " + describe(ld, rc);
      return nullptr;
    }
  }
  if (!options.bind_dn.empty()) {
    std::string password;
    if (!read_password(options.password_file, password)) {
      error = "cannot read the LDAP password file " + options.password_file;
      return nullptr;
    }
    berval credentials{};
    credentials.bv_val = password.data();
    credentials.bv_len = password.size();
    rc = ldap_sasl_bind_s(ld, options.bind_dn.c_str(), LDAP_SASL_SIMPLE, &credentials, nullptr,
                          nullptr, nullptr);
    std::fill(password.begin(), password.end(), '\0');
    if (rc != LDAP_SUCCESS) {
      error = "bind as " + options.bind_dn + ": " + describe(ld, rc);
      return nullptr;
    }
  }
  return connection;
}

Connection::~Connection() {
  ldap_unbind_ext_s(ld_, nullptr, nullptr);
}

Connection::Outcome Connection::search(const std::string& base, const std::string& filter,
                                       const std::vector<std::string>& attributes,
                                       std::chrono::milliseconds timeout) {
  Outcome outcome;
  std::vector<char*> attrs;
  for (const std::string& a : attributes) attrs.push_back(const_cast<char*>(a.c_str()));
  attrs.push_back(nullptr);

  timeval tv = to_timeval(timeout);
  LDAPMessage* raw = nullptr;
  const int rc = ldap_search_ext_s(ld_, base.c_str(), LDAP_SCOPE_SUBTREE, filter.c_str(),
                                   attributes.empty() ? nullptr : attrs.data(), 0, nullptr, nullptr,
                                   &tv, LDAP_NO_LIMIT, &raw);
  std::unique_ptr<LDAPMessage, MessageFree> message(raw);
  // A base that does not exist means nothing matched, not a broken directory.
  if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT) {
    outcome.result.status = SearchResult::Status::unavailable;
    outcome.result.error = "search " + filter + " under " + base + ": " + describe(ld_, rc);
    outcome.broken = breaks_connection(rc);
    outcome.closed = rc == LDAP_SERVER_DOWN;
    return outcome;
  }

  outcome.result.status = SearchResult::Status::ok;
  for (LDAPMessage* e = ldap_first_entry(ld_, message.get()); e != nullptr;
       e = ldap_next_entry(ld_, e)) {
    Entry entry;
    BerElement* ber = nullptr;
    for (char* name = ldap_first_attribute(ld_, e, &ber); name != nullptr;
         name = ldap_next_attribute(ld_, e, ber)) {
      // Keys are spelled as the caller asked for them: the server answers
      // with the schema's spelling, which may differ in case.
      std::string key = name;
      for (const std::string& asked : attributes)
        if (strcasecmp(asked.c_str(), name) == 0) key = asked;
      std::vector<std::string>& values = entry[key];
      if (berval** vals = ldap_get_values_len(ld_, e, name); vals != nullptr) {
        for (berval** v = vals; *v != nullptr; ++v) values.emplace_back((*v)->bv_val, (*v)->bv_len);
        ldap_value_free_len(vals);
      }
      ldap_memfree(name);
    }
    if (ber != nullptr) ber_free(ber, 0);
    outcome.result.entries.push_back(std::move(entry));
  }
  return outcome;
}

}  // namespace mailsan::ldap
