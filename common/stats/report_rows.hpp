// The counters of the shared report (SPEC §5), named once: the daemons count
// under these names and `mailsanctl report` reads them, so a renamed row
// cannot leave one side counting what the other never prints.
#pragma once

#include <string_view>

namespace mailsan::stats::row {

inline constexpr std::string_view user_unknown = "user_unknown";      // policy: LDAP said unknown
inline constexpr std::string_view sender_verify = "sender_verify";    // policy: callout refused
inline constexpr std::string_view greylisted = "greylisted";          // policy: greylist deferred
inline constexpr std::string_view spf_fail = "spf_fail";              // policy: SPF rejected
inline constexpr std::string_view dnsbl = "dnsbl";                    // policy: DNSBL rejected
inline constexpr std::string_view spam = "spam";                      // content: refused as spam
inline constexpr std::string_view virus = "virus";                    // content: refused as virus
inline constexpr std::string_view delivered_spam = "delivered_spam";  // content: passed, tagged
inline constexpr std::string_view delivered_ham = "delivered_ham";    // content: passed, clean
inline constexpr std::string_view quarantined = "quarantined";        // content: copies quarantined

}  // namespace mailsan::stats::row
