#include "health/http/internal/negotiation.h"

#include "gtest/gtest.h"

namespace vigil {
namespace http {
namespace internal {
namespace {

TEST(FormatParamTest, KnownNamesAndAliases) {
  EXPECT_EQ(*ParseFormatParam("text"), Format::kText);
  EXPECT_EQ(*ParseFormatParam("TXT"), Format::kText);
  EXPECT_EQ(*ParseFormatParam("json"), Format::kJson);
  EXPECT_EQ(*ParseFormatParam("protobuf"), Format::kProtobuf);
  EXPECT_EQ(*ParseFormatParam("pb"), Format::kProtobuf);
  EXPECT_FALSE(ParseFormatParam("xml").ok());
  EXPECT_FALSE(ParseFormatParam("").ok());
}

TEST(AcceptTest, PicksTheRequestedType) {
  EXPECT_EQ(FormatFromAccept(""), Format::kText);
  EXPECT_EQ(FormatFromAccept("*/*"), Format::kText);
  EXPECT_EQ(FormatFromAccept("application/json"), Format::kJson);
  EXPECT_EQ(FormatFromAccept("Application/JSON"), Format::kJson);
  EXPECT_EQ(FormatFromAccept("application/x-protobuf"), Format::kProtobuf);
  EXPECT_EQ(FormatFromAccept("application/vnd.google.protobuf"),
            Format::kProtobuf);
  EXPECT_EQ(FormatFromAccept("text/plain"), Format::kText);
}

TEST(AcceptTest, HonoursQualityAndSpecificity) {
  EXPECT_EQ(FormatFromAccept("application/json, */*;q=0.1"), Format::kJson);
  EXPECT_EQ(FormatFromAccept("text/plain;q=0.2, application/json;q=0.9"),
            Format::kJson);
  EXPECT_EQ(FormatFromAccept("application/x-protobuf;q=1, application/json; "
                             "q=0.5"),
            Format::kProtobuf);
  // text/plain explicitly refused: the wildcard gives the next one.
  EXPECT_EQ(FormatFromAccept("text/plain;q=0, */*"), Format::kJson);
  // Equal q: the more specific range wins over the wildcard.
  EXPECT_EQ(FormatFromAccept("*/*, application/json"), Format::kJson);
  // Equal q and specificity: the first listed.
  EXPECT_EQ(FormatFromAccept("application/json, text/plain"), Format::kJson);
  EXPECT_EQ(FormatFromAccept("text/plain, application/json"), Format::kText);
  // A browser: */* ties go to text.
  EXPECT_EQ(FormatFromAccept("text/html,application/xhtml+xml,application/"
                             "xml;q=0.9,*/*;q=0.8"),
            Format::kText);
}

TEST(AcceptTest, MalformedOrUnsatisfiableFallsBackToText) {
  EXPECT_EQ(FormatFromAccept("application/json;q=abc"), Format::kText);
  EXPECT_EQ(FormatFromAccept("application/json;q=2"), Format::kText);
  EXPECT_EQ(FormatFromAccept("json"), Format::kText);
  EXPECT_EQ(FormatFromAccept("application/json;;;q"), Format::kText);
  EXPECT_EQ(FormatFromAccept("*/json"), Format::kText);
  EXPECT_EQ(FormatFromAccept("a/b/c, application/json"), Format::kText);
  EXPECT_EQ(FormatFromAccept(",,, ,"), Format::kText);
  EXPECT_EQ(FormatFromAccept("image/png"), Format::kText);
  EXPECT_EQ(FormatFromAccept("application/json;q=0"), Format::kText);
  EXPECT_EQ(FormatFromAccept(std::string(10000, ',')), Format::kText);
  // Empty list elements are allowed.
  EXPECT_EQ(FormatFromAccept(", application/json ,"), Format::kJson);
}

}  // namespace
}  // namespace internal
}  // namespace http
}  // namespace vigil
