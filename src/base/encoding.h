// Byte encodings used on the wire: base64, hex, percent-encoding, MD5 and HMAC-SHA256.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ferry {

std::string Base64Encode(std::string_view bytes);
// Returns nullopt when `text` is not valid (padded) base64.
std::optional<std::string> Base64Decode(std::string_view text);

std::string HexEncode(std::string_view bytes);

// `text` with ASCII letters in lower case (header names, keys); other bytes unchanged.
std::string AsciiLower(std::string_view text);

// Percent-encodes every byte except RFC 3986 unreserved characters and those in `keep`.
std::string PercentEncode(std::string_view text, std::string_view keep = "");
// Decodes %XX escapes (and nothing else; '+' stays '+'). Nullopt on a malformed escape.
std::optional<std::string> PercentDecode(std::string_view text);

// SHA-256 of `data`, as 32 raw bytes.
std::string Sha256(std::string_view data);

// HMAC-SHA256 of `data` under `key`, as 32 raw bytes.
std::string HmacSha256(std::string_view key, std::string_view data);

using Md5Digest = std::array<uint8_t, 16>;

// Incremental MD5, for hashing bytes while they stream. Not thread-safe; cheap to move.
class Md5 {
 public:
  Md5();
  ~Md5();
  Md5(Md5&& other) noexcept;
  Md5& operator=(Md5&& other) noexcept;
  Md5(const Md5&) = delete;
  Md5& operator=(const Md5&) = delete;

  void Update(const void* data, size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // Returns the digest; the object must not be updated afterwards.
  Md5Digest Finish();

  static Md5Digest Of(std::string_view data);

 private:
  EVP_MD_CTX* ctx_;
};

std::string_view DigestBytes(const Md5Digest& digest);
inline std::string Md5Base64(const Md5Digest& d) { return Base64Encode(DigestBytes(d)); }
inline std::string Md5Hex(const Md5Digest& d) { return HexEncode(DigestBytes(d)); }

}  // namespace ferry
