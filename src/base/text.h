// Checks and rewrites of text that comes from outside: names that must be strict UTF-8, and
// secrets that must never be shown.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ferry {

// The number of code points in `text` if it is well-formed UTF-8 as RFC 3629 defines it (no
// overlong forms, no surrogates U+D800..U+DFFF, nothing above U+10FFFF), else nullopt.
std::optional<size_t> Utf8Length(std::string_view text);

// `text` for XML or HTML text and attribute values: & < > " ' as entities.
std::string EscapeXml(std::string_view text);

// The edit distance between two words (insertions, deletions, substitutions).
size_t EditDistance(std::string_view a, std::string_view b);

// "1 file", "2 files", "0 files": a count with its noun; `many` defaults to `one` + "s".
std::string Count(int64_t n, std::string_view one, std::string_view many = {});

// A Unix time (nanoseconds) in UTC, to the second, as people read it ("2026-11-24 18:00:00 UTC")
// or as ISO 8601 ("2026-11-24T18:00:00Z").
std::string HumanTime(int64_t unix_ns);
std::string IsoTime(int64_t unix_ns);
// The system clock's time now, as such a Unix time.
int64_t NowUnixNs();
// "Mon, 30 Nov 2026 15:07:37 GMT": the HTTP date (RFC 9110 IMF-fixdate), as x-ms-date wants it.
std::string HttpTime(int64_t unix_ns);

// `text` (a URL, a message, a JSON document, a connection string) with the value of every
// secret replaced by REDACTED: a SAS signature (`sig=`, or `sig%3D` percent-encoded, in any case)
// and an account key (`AccountKey=` in a connection string). Everything ferry shows or records of
// an endpoint goes through here. Idempotent.
std::string RedactSecrets(std::string_view text);

}  // namespace ferry
