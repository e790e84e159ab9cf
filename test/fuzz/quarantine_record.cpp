// Fuzz target for the quarantine record codec: a record read back from
// Redis or a file decodes into a record that encodes and decodes to itself,
// or into nothing; never a crash.
#include "contentfilter/quarantine/quarantine_record.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto record = mailsan::filter::decode_quarantine_record(input);
  if (!record) return 0;
  if (!mailsan::filter::valid_quarantine_id(record->id)) std::abort();
  auto again =
      mailsan::filter::decode_quarantine_record(mailsan::filter::encode_quarantine_record(*record));
  if (!again || !(*again == *record)) std::abort();
  return 0;
}
