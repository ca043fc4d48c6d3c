// libFuzzer target: the redactor every URL and message goes through. The input is any text;
// after redaction no `sig=` or `AccountKey=` may be followed by anything but REDACTED (or by a
// character that ends the value), and redacting again changes nothing.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/text.h"

namespace {

// Whether a key at `at` (case-insensitive) starts a value that is not REDACTED.
bool Leaks(const std::string& text, std::string_view key) {
  for (size_t at = 0; at + key.size() <= text.size(); ++at) {
    bool boundary = at == 0 || !std::isalnum(static_cast<unsigned char>(text[at - 1])) ||
                    (at >= 3 && text[at - 3] == '%' &&
                     ((std::tolower(static_cast<unsigned char>(text[at - 2])) == '3' &&
                       std::tolower(static_cast<unsigned char>(text[at - 1])) == 'f') ||
                      (text[at - 2] == '2' && text[at - 1] == '6')));
    bool match = boundary;
    for (size_t i = 0; match && i < key.size(); ++i) {
      match = std::tolower(static_cast<unsigned char>(text[at + i])) == key[i];
    }
    if (!match) continue;
    std::string_view rest(text.data() + at + key.size(), text.size() - at - key.size());
    bool ends = rest.empty() || !(std::isalnum(static_cast<unsigned char>(rest[0])) ||
                                  std::string_view("%+/=-_").find(rest[0]) != std::string::npos);
    if (!ends && !rest.starts_with("REDACTED")) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string once = ferry::RedactSecrets(text);
  if (Leaks(once, "sig=") || Leaks(once, "sig%3d") || Leaks(once, "accountkey=")) std::abort();
  if (ferry::RedactSecrets(once) != once) std::abort();
  return 0;
}
