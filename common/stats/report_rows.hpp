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

namespace mailsan::stats {

// One line of the report (SPEC §5) per counter, in the order printed.
// `mailsanctl report` prints consecutive rows with the same group and label
// as one line with their sum ("SPF fail / DNSBL"), the group on its first
// line only; --json gives each row as <group in lower case>.<json_key>, or
// as the group's own value when json_key is empty.
struct ReportRow {
  std::string_view group;     // "Rejected", "Bounced", "Delivered", "Quarantined"
  std::string_view label;     // empty for a group of one line
  std::string_view counter;   // a row:: name; empty for a line nothing counts
  std::string_view json_key;  // key under the group in --json; empty: the group itself
};

// "Bounced" has no counter: mailsan refuses mail during the SMTP conversation
// and never makes a bounce, so the line is 0 by design, as in SPEC §5.
inline constexpr ReportRow kReportRows[] = {
    {"Rejected", "User unknown", row::user_unknown, "user_unknown"},
    {"Rejected", "Sender verify (perm)", row::sender_verify, "sender_verify"},
    {"Rejected", "Greylisted (tempfail)", row::greylisted, "greylisted"},
    {"Rejected", "SPF fail / DNSBL", row::spf_fail, "spf_fail"},
    {"Rejected", "SPF fail / DNSBL", row::dnsbl, "dnsbl"},
    {"Rejected", "Spam", row::spam, "spam"},
    {"Rejected", "Virus", row::virus, "virus"},
    {"Bounced", "", "", ""},
    {"Delivered", "Spam (tagged)", row::delivered_spam, "spam_tagged"},
    {"Delivered", "Ham", row::delivered_ham, "ham"},
    {"Quarantined", "", row::quarantined, ""},
};

}  // namespace mailsan::stats
