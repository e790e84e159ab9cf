#include "common/stats/report_rows.hpp"

#include <catch2/catch.hpp>
#include <set>
#include <string_view>

using namespace mailsan;

TEST_CASE("The report has a line for every counter the daemons keep, and each once", "[stats]") {
  const std::set<std::string_view> counted = {stats::row::user_unknown,  stats::row::sender_verify,
                                              stats::row::greylisted,    stats::row::spf_fail,
                                              stats::row::dnsbl,         stats::row::spam,
                                              stats::row::virus,         stats::row::delivered_spam,
                                              stats::row::delivered_ham, stats::row::quarantined};
  std::multiset<std::string_view> reported;
  for (const auto& r : stats::kReportRows)
    if (!r.counter.empty()) reported.insert(r.counter);
  CHECK(std::set<std::string_view>(reported.begin(), reported.end()) == counted);
  CHECK(reported.size() == counted.size());
}

TEST_CASE("Report rows of one group stand together and name their JSON keys once", "[stats]") {
  std::set<std::string_view> groups_done;
  std::set<std::pair<std::string_view, std::string_view>> json_keys;
  std::string_view group;
  for (const auto& r : stats::kReportRows) {
    if (r.group != group) {
      INFO(r.group);
      CHECK(groups_done.insert(r.group).second);  // a group does not come back later
      group = r.group;
    }
    CHECK(json_keys.insert({r.group, r.json_key}).second);
  }
  CHECK(groups_done ==
        std::set<std::string_view>{"Rejected", "Bounced", "Delivered", "Quarantined"});
}
