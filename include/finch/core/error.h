// finch's error types. Every failure that reaches the user is one of these: a single message that
// names the file, line, key or rank, and an exit code (2 for usage/config, 1 for runtime).
#pragma once

#include <stdexcept>
#include <string>

namespace finch {

class Error : public std::runtime_error {
 public:
  Error(std::string message, int exit_code) : std::runtime_error(std::move(message)), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// A bad command line or config: nothing has run yet. Exit code 2.
class ConfigError : public Error {
 public:
  explicit ConfigError(std::string message) : Error(std::move(message), 2) {}
};

// A failure while working: unreadable file, corrupt data, dead peer. Exit code 1.
class RuntimeError : public Error {
 public:
  explicit RuntimeError(std::string message) : Error(std::move(message), 1) {}
};

// A value as an error message quotes it: whole when it is short, else its start and its length (a
// 60,000-character --set once made a 60,000-character "one line").
inline std::string briefly(const std::string& text, size_t max = 80) {
  return text.size() <= max ? text : text.substr(0, max - 20) + "... (" + std::to_string(text.size()) + " characters)";
}

// An error message as finch prints it: one line whatever it quotes. A control character (a newline
// or carriage return in a --set value, a file name, a damaged file's bytes) is written as \n, \r or
// \xNN, so the line cannot be split or overwritten on the terminal.
inline std::string one_line(const std::string& message) {
  static const char* hex = "0123456789abcdef";
  const size_t end = message.find_last_not_of(" \n\r\t");
  std::string out;
  out.reserve(message.size());
  for (const char ch : message.substr(0, end == std::string::npos ? 0 : end + 1)) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += ' ';
    else if (c < 0x20 || c == 0x7f) out += std::string("\\x") + hex[c >> 4] + hex[c & 15];
    else out += ch;
  }
  return out;
}

}  // namespace finch
