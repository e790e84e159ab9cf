// Redis key names of the quarantine index (see quarantine_index.hpp).
#include "contentfilter/quarantine/quarantine_index.hpp"

namespace mailsan::filter {

std::string quarantine_index_key(std::string_view prefix) {
  std::string key(prefix);
  key += "quarantine";
  return key;
}

std::string quarantine_record_key(std::string_view prefix, std::string_view id) {
  std::string key(prefix);
  key += "quarantine:";
  key += id;
  return key;
}

}  // namespace mailsan::filter
