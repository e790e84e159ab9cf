// SHA-1 against published vectors (FIPS 180 examples and well-known strings)
// and against itself when fed in pieces; Script names bodies the way Redis
// does (hex SHA-1 of the body).
#include <catch2/catch.hpp>
#include <string>

#include "common/redis/client.hpp"
#include "common/util/sha1.hpp"

using mailsan::util::Sha1;
using mailsan::util::sha1_hex;

namespace {

std::string hex_of(const Sha1::Digest& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (auto byte : digest) {
    out.push_back(kDigits[byte >> 4]);
    out.push_back(kDigits[byte & 0x0F]);
  }
  return out;
}

std::string first_bytes(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(i));
  return s;
}

}  // namespace

TEST_CASE("sha1 of the published test vectors matches", "[redis][sha1]") {
  CHECK(sha1_hex("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  CHECK(sha1_hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK(sha1_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  CHECK(
      sha1_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklm"
               "nopqrlmnopqrsmnopqrstnopqrstu") == "a49b2446a02c645bf419f995b67091253a04a259");
  CHECK(sha1_hex("The quick brown fox jumps over the lazy dog") ==
        "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12");
  CHECK(sha1_hex(std::string(1000000, 'a')) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST_CASE("sha1 is right at the padding boundaries of a block", "[redis][sha1]") {
  // 55 bytes is the longest input whose length still fits in its last block;
  // 56..63 need an extra block for the length; 64 fills a block exactly.
  CHECK(sha1_hex(first_bytes(55)) == "8ae2d46729cfe68ff927af5eec9c7d1b66d65ac2");
  CHECK(sha1_hex(first_bytes(56)) == "636e2ec698dac903498e648bd2f3af641d3c88cb");
  CHECK(sha1_hex(first_bytes(63)) == "6d942da0c4392b123528f2905c713a3ce28364bd");
  CHECK(sha1_hex(first_bytes(64)) == "c6138d514ffa2135bfce0ed0b8fac65669917ec7");
  CHECK(sha1_hex(first_bytes(65)) == "69bd728ad6e13cd76ff19751fde427b00e395746");
  CHECK(sha1_hex(first_bytes(119)) == "41c89d06001bab4ab78736b44efe7ce18ce6ae08");
  CHECK(sha1_hex(first_bytes(120)) == "d3dbd653bd8597b7475321b60a36891278e6a04a");
  CHECK(sha1_hex(first_bytes(128)) == "e6434bc401f98603d7eda504790c98c67385d535");
}

TEST_CASE("sha1 fed one byte at a time equals sha1 fed in one piece", "[redis][sha1]") {
  const std::string input = first_bytes(200) + "tail";
  for (std::size_t split = 0; split <= input.size(); split += 7) {
    Sha1 pieces;
    pieces.update(std::string_view(input).substr(0, split));
    for (char c : input.substr(split)) pieces.update(std::string_view(&c, 1));
    CHECK(hex_of(pieces.finish()) == sha1_hex(input));
  }
}

TEST_CASE("a script is named by the hex sha1 of its body", "[redis][sha1]") {
  const mailsan::redis::Script script("return 1");
  CHECK(script.body() == "return 1");
  CHECK(script.sha1() == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}
