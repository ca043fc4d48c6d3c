#include "base/encoding.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(Base64, KnownVectors) {  // RFC 4648 section 10
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    EXPECT_EQ(Base64Decode(encoded), std::string(plain));
  }
}

TEST(Base64, RejectsMalformedText) {
  for (const char* bad : {"Zg=", "Z===", "Zm9v!", "Zg==Zg==", "=Zg="}) {
    EXPECT_FALSE(Base64Decode(bad).has_value()) << bad;
  }
}

TEST(Md5, KnownVectorsAndIncrementalUpdates) {  // RFC 1321 appendix A.5
  EXPECT_EQ(Md5Hex(Md5::Of("")), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Md5Hex(Md5::Of("abc")), "900150983cd24fb0d6963f7d28e17f72");
  Md5 md5;
  md5.Update("message ");
  md5.Update("digest");
  EXPECT_EQ(Md5Hex(md5.Finish()), "f96b697d7cb7938d525a2f31aaf161d0");
  EXPECT_EQ(Md5Base64(Md5::Of("")), "1B2M2Y8AsgTpgAmY7PhCfg==");
}

TEST(Sha256, FipsVector) {
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Hmac, Rfc4231TestCase2) {
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(PercentEncoding, KeepsUnreservedAndRoundTrips) {
  EXPECT_EQ(PercentEncode("a b#c?d%e+f&g/h", "/"), "a%20b%23c%3Fd%25e%2Bf%26g/h");
  EXPECT_EQ(PercentEncode("é"), "%C3%A9");
  EXPECT_EQ(PercentEncode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(PercentDecode("a%20b%2Fc+d"), std::string("a b/c+d"));
  EXPECT_FALSE(PercentDecode("bad%2").has_value());
  EXPECT_FALSE(PercentDecode("bad%zz").has_value());
}

}  // namespace
}  // namespace ferry
