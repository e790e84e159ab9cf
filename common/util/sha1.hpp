// SHA-1 (FIPS 180-4), pure and dependency-free.
//
// Used where a peer names data by its SHA-1: Redis identifies a loaded Lua
// script by the hex SHA-1 of its body, so EVALSHA can be sent without asking
// the server first. Not for anything that needs collision resistance.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mailsan::util {

// Incremental form, for input that arrives in pieces.
class Sha1 {
 public:
  using Digest = std::array<std::uint8_t, 20>;

  Sha1();
  void update(std::string_view data);
  // Pads and returns the digest; the object must not be updated afterwards.
  Digest finish();

 private:
  void compress(const std::uint8_t* block);

  std::array<std::uint32_t, 5> state_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;
};

Sha1::Digest sha1(std::string_view data);
// Lower-case hex, 40 characters: the form Redis uses for script names.
std::string sha1_hex(std::string_view data);

}  // namespace mailsan::util
