#include "common/util/password_file.hpp"

#include <fstream>

namespace mailsan::util {

bool read_password_file(const std::string& path, std::string* password, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot read password file " + path;
    return false;
  }
  std::getline(in, *password);
  if (!password->empty() && password->back() == '\r') password->pop_back();
  if (password->empty()) {
    *error = "password file " + path + " has an empty first line";
    return false;
  }
  return true;
}

}  // namespace mailsan::util
