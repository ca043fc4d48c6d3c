#include "base/text.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <vector>

namespace ferry {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string Count(int64_t n, std::string_view one, std::string_view many) {
  if (n == 1) return "1 " + std::string(one);
  return std::to_string(n) + " " + (many.empty() ? std::string(one) + "s" : std::string(many));
}

std::string EscapeXml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

std::string FormatUtc(int64_t unix_ns, const char* format) {
  std::time_t t = std::time_t(unix_ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

}  // namespace

std::string HumanTime(int64_t unix_ns) { return FormatUtc(unix_ns, "%Y-%m-%d %H:%M:%S UTC"); }
std::string IsoTime(int64_t unix_ns) { return FormatUtc(unix_ns, "%Y-%m-%dT%H:%M:%SZ"); }

int64_t NowUnixNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
std::string HttpTime(int64_t unix_ns) {
  return FormatUtc(unix_ns, "%a, %d %b %Y %H:%M:%S GMT");  // names in the C locale, as HTTP needs
}

std::optional<size_t> Utf8Length(std::string_view text) {
  size_t count = 0;
  for (size_t i = 0; i < text.size(); ++count) {
    auto byte = [&](size_t k) { return static_cast<unsigned char>(text[i + k]); };
    unsigned char c = byte(0);
    size_t len = c < 0x80 ? 1 : c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
    if (len == 0 || i + len > text.size()) return std::nullopt;  // stray, overlong C0/C1, > F4
    for (size_t k = 1; k < len; ++k) {
      if ((byte(k) >> 6) != 2) return std::nullopt;
    }
    // The second byte's range rules out overlong forms, surrogates and code points > U+10FFFF.
    if ((c == 0xE0 && byte(1) < 0xA0) || (c == 0xED && byte(1) > 0x9F) ||
        (c == 0xF0 && byte(1) < 0x90) || (c == 0xF4 && byte(1) > 0x8F)) {
      return std::nullopt;
    }
    i += len;
  }
  return count;
}

namespace {

bool StartsWithIgnoreCase(std::string_view text, size_t at, std::string_view word) {
  if (text.size() - at < word.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[at + i])) != word[i]) return false;
  }
  return true;
}

// Characters a signature or key is made of: base64 and its percent-encoded forms.
bool SecretChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '%' || c == '+' || c == '/' ||
         c == '=' || c == '-' || c == '_';
}

}  // namespace

std::string RedactSecrets(std::string_view text) {
  static constexpr std::string_view kRedacted = "REDACTED";
  // (A SAS inside another URL's query arrives percent-encoded: sig%3D.)
  static constexpr std::string_view kKeys[] = {"sig=", "sig%3d", "accountkey="};
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    std::string_view key;
    // A key counts where a parameter or a connection string field begins (after '?', '&' or
    // ';', or their percent-encoded forms %3F and %26).
    bool boundary =
        i == 0 || !std::isalnum(static_cast<unsigned char>(text[i - 1])) ||
        (i >= 3 && text[i - 3] == '%' &&
         (StartsWithIgnoreCase(text, i - 2, "3f") || StartsWithIgnoreCase(text, i - 2, "26")));
    for (std::string_view k : kKeys) {
      if (boundary && StartsWithIgnoreCase(text, i, k)) key = k;
    }
    if (key.empty()) {
      out += text[i++];
      continue;
    }
    out.append(text.substr(i, key.size()));
    i += key.size();
    size_t end = i;
    while (end < text.size() && SecretChar(text[end])) ++end;
    if (end > i) out += kRedacted;
    i = end;
  }
  return out;
}

}  // namespace ferry
