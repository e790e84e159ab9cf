#include "test/support/clamav_db.hpp"

#include <random>
#include <regex>
#include <stdexcept>

#include "test/support/process.hpp"

namespace mailsan::test {

namespace {

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

void write_atomically(const std::filesystem::path& path, const std::string& content) {
  std::filesystem::path aside = path;
  aside += ".tmp";  // not a database extension: libclamav ignores it
  write_file(aside, content);
  std::filesystem::rename(aside, path);
}

}  // namespace

std::filesystem::path clamav_testfiles_dir() {
  return "/usr/share/clamav-testfiles";
}

void write_test_clamav_db(const std::filesystem::path& dir) {
  // .ndb: Name:TargetType:Offset:HexSignature; target 0 is any file, offset
  // * anywhere in it.
  write_atomically(dir / "eicar.ndb", "Eicar-Test-Signature:0:*:" + hex(kEicar) + "\n");
  // .hdb: MD5:Size:Name, as sigtool prints it (with the file name as the name).
  auto md5 = run({"sigtool", "--md5", (clamav_testfiles_dir() / "clam.exe").string()});
  std::smatch m;
  static const std::regex line("([0-9a-f]{32}):([0-9]+):");
  if (md5.exit_code != 0 || !std::regex_search(md5.output, m, line))
    throw std::runtime_error("sigtool --md5 clam.exe failed: " + md5.output);
  write_atomically(dir / "test.hdb", m[1].str() + ":" + m[2].str() + ":ClamAV-Test-File\n");
}

void add_clamav_signature(const std::filesystem::path& dir, const std::string& stem,
                          const std::string& name, std::string_view bytes) {
  write_atomically(dir / (stem + ".ndb"), name + ":0:*:" + hex(bytes) + "\n");
}

void add_filler_signatures(const std::filesystem::path& dir, const std::string& stem,
                           std::size_t count) {
  std::mt19937_64 random(count);
  std::string content;
  content.reserve(count * 80);
  std::string bytes(20, '\0');
  for (std::size_t i = 0; i < count; ++i) {
    for (char& c : bytes) c = static_cast<char>(random());
    content += "Mailsan-Filler-" + std::to_string(i) + ":0:*:" + hex(bytes) + "\n";
  }
  write_atomically(dir / (stem + ".ndb"), content);
}

}  // namespace mailsan::test
