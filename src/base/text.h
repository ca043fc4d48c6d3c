// Checks and rewrites of text that comes from outside: names that must be strict UTF-8, and
// secrets that must never be shown.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ferry {

// The number of code points in `text` if it is well-formed UTF-8 as RFC 3629 defines it (no
// overlong forms, no surrogates U+D800..U+DFFF, nothing above U+10FFFF), else nullopt.
std::optional<size_t> Utf8Length(std::string_view text);

// `text` (a URL, a message, a JSON document, a connection string) with the value of every
// secret replaced by REDACTED: a SAS signature (`sig=`, or `sig%3D` percent-encoded, in any case)
// and an account key (`AccountKey=` in a connection string). Everything ferry shows or records of
// an endpoint goes through here. Idempotent.
std::string RedactSecrets(std::string_view text);

}  // namespace ferry
