// The RFC 7208 test suite (openspf.org, release 2014.04), read from its YAML
// as published: each scenario's zone data becomes an in-memory DnsSource
// and every case runs through spf::check().
//
// The suite's driver conventions followed here: a name's SPF (type 99)
// records are copied to TXT unless the name lists TXT entries of its own
// ("TXT: NONE" lists none but stops the copy); TIMEOUT makes a query time
// out unless a record of the asked type came before it; CNAMEs are
// followed; a result list accepts any of its results; "DEFAULT" stands for
// whatever default explanation the implementation gives.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>
#include <cctype>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "common/spf/spf.hpp"

namespace asio = boost::asio;
namespace dns = mailsan::dns;
namespace spf = mailsan::spf;
using mailsan::net::IpAddress;

namespace {

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string name_key(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return lower(std::string(name));
}

struct ZoneEntry {
  std::string type;  // "A", "AAAA", "TXT", "MX", "PTR", "CNAME", "TIMEOUT"
  std::string text;
  IpAddress address;
  std::uint16_t preference = 0;
};

class SuiteZone : public spf::DnsSource {
 public:
  explicit SuiteZone(const YAML::Node& zonedata) {
    for (const auto& name : zonedata) {
      std::vector<ZoneEntry> entries;
      std::vector<ZoneEntry> copied_from_spf;
      bool lists_txt = false;
      for (const auto& item : name.second) {
        if (item.IsScalar()) {  // TIMEOUT
          entries.push_back(ZoneEntry{item.as<std::string>(), {}, {}, 0});
          continue;
        }
        for (const auto& field : item) {
          ZoneEntry entry;
          entry.type = field.first.as<std::string>();
          const YAML::Node& value = field.second;
          if (entry.type == "TXT" || entry.type == "SPF") {
            // Several strings of one record are joined as the resolver does.
            if (value.IsSequence())
              for (const auto& part : value) entry.text += part.as<std::string>();
            else
              entry.text = value.as<std::string>();
            if (entry.type == "SPF") {
              copied_from_spf.push_back(ZoneEntry{"TXT", entry.text, {}, 0});
              continue;  // type 99 is never queried (RFC 7208 §3.1)
            }
            lists_txt = true;
            if (entry.text == "NONE") continue;
          } else if (entry.type == "A" || entry.type == "AAAA") {
            auto address = IpAddress::parse(value.as<std::string>());
            REQUIRE(address);
            entry.address = *address;
          } else if (entry.type == "MX") {
            entry.preference = value[0].as<std::uint16_t>();
            entry.text = value[1].as<std::string>();
          } else {
            entry.text = value.as<std::string>();  // PTR, CNAME
          }
          entries.push_back(std::move(entry));
        }
      }
      if (!lists_txt) entries.insert(entries.end(), copied_from_spf.begin(), copied_from_spf.end());
      zone_[name_key(name.first.as<std::string>())] = std::move(entries);
    }
  }

  asio::awaitable<dns::Answer> query(std::string_view name, dns::RecordType type) override {
    co_return lookup(name, type);
  }

 private:
  static std::string_view type_name(dns::RecordType type) {
    switch (type) {
      case dns::RecordType::a:
        return "A";
      case dns::RecordType::aaaa:
        return "AAAA";
      case dns::RecordType::txt:
        return "TXT";
      case dns::RecordType::mx:
        return "MX";
      case dns::RecordType::ptr:
        return "PTR";
    }
    return "";
  }

  dns::Answer lookup(std::string_view name, dns::RecordType type) const {
    dns::Answer answer;
    std::string key = name_key(name);
    const std::vector<ZoneEntry>* entries = nullptr;
    for (int hops = 0;; ++hops) {
      if (hops == 10) {  // a CNAME loop: what a recursive server reports
        answer.status = dns::Status::servfail;
        return answer;
      }
      auto found = zone_.find(key);
      if (found == zone_.end()) {
        answer.status = dns::Status::nxdomain;
        return answer;
      }
      entries = &found->second;
      auto cname = std::find_if(entries->begin(), entries->end(),
                                [](const ZoneEntry& e) { return e.type == "CNAME"; });
      if (cname == entries->end()) break;
      key = name_key(cname->text);
    }
    const std::string_view wanted = type_name(type);
    bool found_type = false;
    for (const auto& entry : *entries) {
      if (entry.type == "TIMEOUT") {
        if (!found_type) {
          answer.status = dns::Status::timeout;
          return answer;
        }
        break;
      }
      if (entry.type != wanted) continue;
      found_type = true;
      if (type == dns::RecordType::a || type == dns::RecordType::aaaa)
        answer.addresses.push_back(entry.address);
      else if (type == dns::RecordType::mx)
        answer.mx.push_back(dns::MxRecord{entry.preference, name_key(entry.text)});
      else
        answer.texts.push_back(entry.text);
    }
    answer.status = found_type ? dns::Status::ok : dns::Status::nodata;
    return answer;
  }

  std::map<std::string, std::vector<ZoneEntry>> zone_;
};

spf::Outcome run_check(const spf::Request& request, spf::DnsSource& zone) {
  asio::io_context io;
  auto future = asio::co_spawn(io, spf::check(request, zone), asio::use_future);
  io.run();
  return future.get();
}

bool explanation_matches(const std::string& expected, const std::string& actual) {
  if (expected == "DEFAULT") return actual.starts_with("See https://www.open-spf.org/Why?");
  // Names inside explanations may differ in case only (the suite spells an
  // ip6.arpa name with upper-case nibbles; §7.3 gives lower case).
  return lower(expected) == lower(actual);
}

}  // namespace

TEST_CASE("Every case of the RFC 7208 test suite gives an expected result", "[spf]") {
  auto documents =
      YAML::LoadAllFromFile(std::string(MAILSAN_SOURCE_DIR) + "/test/data/spf/rfc7208-tests.yml");
  REQUIRE(!documents.empty());
  int total = 0;
  int passed = 0;
  std::vector<std::string> failures;
  for (const auto& document : documents) {
    SuiteZone zone(document["zonedata"]);
    const std::string section = document["description"].as<std::string>();
    for (const auto& test : document["tests"]) {
      const std::string name = test.first.as<std::string>();
      const YAML::Node& spec = test.second;
      ++total;
      spf::Request request;
      auto ip = IpAddress::parse(spec["host"].as<std::string>());
      REQUIRE(ip);
      request.ip = *ip;
      request.sender = spec["mailfrom"].as<std::string>();
      request.helo = spec["helo"].as<std::string>();
      request.receiver = "receiver.example.org";
      spf::Outcome outcome = run_check(request, zone);

      std::vector<std::string> expected;
      if (spec["result"].IsSequence())
        for (const auto& r : spec["result"]) expected.push_back(r.as<std::string>());
      else
        expected.push_back(spec["result"].as<std::string>());
      const std::string actual(spf::to_string(outcome.result));
      bool ok = std::find(expected.begin(), expected.end(), actual) != expected.end();
      std::string why;
      if (!ok) why = "result " + actual + " (" + outcome.problem + ")";
      if (ok && spec["explanation"] && outcome.result == spf::Result::fail &&
          !explanation_matches(spec["explanation"].as<std::string>(), outcome.explanation)) {
        ok = false;
        why = "explanation \"" + outcome.explanation + "\"";
      }
      if (ok)
        ++passed;
      else
        failures.push_back(section + " / " + name + ": " + why);
    }
  }
  for (const auto& failure : failures) std::cout << "RFC 7208 suite failure: " << failure << "\n";
  std::cout << "RFC 7208 suite: " << passed << " of " << total << " cases pass\n";
  WARN("RFC 7208 suite: " << passed << " of " << total << " cases pass");
  CHECK(total > 200);
  REQUIRE(passed == total);
}
