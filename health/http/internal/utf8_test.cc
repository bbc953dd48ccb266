#include "health/http/internal/utf8.h"

#include <string>
#include <vector>

#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"
#include "health/proto/health.pb.h"

namespace vigil {
namespace http {
namespace internal {
namespace {

constexpr absl::string_view kFffd = "\xEF\xBF\xBD";

TEST(Utf8Test, KeepsValidTextByteForByte) {
  for (const absl::string_view s : std::vector<absl::string_view>{
           "", "ascii", "caf\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
           "\xF4\x8F\xBF\xBF", absl::string_view("nul\0in", 6)}) {
    EXPECT_TRUE(IsValidUtf8(s)) << s;
    EXPECT_EQ(SanitizeUtf8(s), s);
  }
}

TEST(Utf8Test, ReplacesEachInvalidByte) {
  struct Case {
    std::string in, want;
  };
  const std::string r(kFffd);
  for (const Case& c : std::vector<Case>{
           {"caf\xE9", "caf" + r},               // Latin-1 byte
           {"\xC3\x28", r + "("},                // bad continuation
           {"\xC0\xAF", r + r},                  // overlong '/'
           {"\xED\xA0\x80", r + r + r},          // surrogate U+D800
           {"\xF4\x90\x80\x80", r + r + r + r},  // past U+10FFFF
           {"\xE2\x82", r + r},                  // truncated at the end
           {"\xFF ok \x80", r + " ok " + r},     // never valid bytes
       }) {
    EXPECT_FALSE(IsValidUtf8(c.in));
    const std::string out = SanitizeUtf8(c.in);
    EXPECT_EQ(out, c.want);
    EXPECT_TRUE(IsValidUtf8(out));
  }
}

TEST(Utf8Test, SanitizesEveryStringFieldOfAMessage) {
  v1::HealthReport report;
  report.mutable_service()->set_name("svc\xFF");
  v1::CheckResult* check = report.add_checks();
  check->set_name("ok-name");
  check->set_message("bad \xC3\x28 byte");
  (*check->mutable_details())["key\xFE"] = "value\xE9";
  (*check->mutable_details())["fine"] = "fine";
  EXPECT_EQ(SanitizeUtf8Fields(&report), 4);
  EXPECT_EQ(report.service().name(), "svc" + std::string(kFffd));
  EXPECT_EQ(report.checks(0).name(), "ok-name");
  EXPECT_EQ(report.checks(0).message(), "bad " + std::string(kFffd) + "( byte");
  EXPECT_EQ(report.checks(0).details().at("key" + std::string(kFffd)),
            "value" + std::string(kFffd));
  EXPECT_EQ(report.checks(0).details().at("fine"), "fine");
  // proto3 parsers refuse invalid UTF-8 in strings: these bytes parse.
  v1::HealthReport parsed;
  EXPECT_TRUE(parsed.ParseFromString(report.SerializeAsString()));
  EXPECT_EQ(SanitizeUtf8Fields(&report), 0);
}

std::vector<std::string>* logged = new std::vector<std::string>;

void Capture(google::protobuf::LogLevel, const char*, int,
             const std::string& message) {
  logged->push_back(message);
}

// A bad check message is repaired on every render: protobuf's own complaint
// about it (two ERROR lines per render before) must not reach the log.
TEST(Utf8Test, RepairLogsNothing) {
  google::protobuf::LogHandler* old = google::protobuf::SetLogHandler(Capture);
  logged->clear();
  v1::HealthReport report;
  report.add_checks()->set_message("bad \xFF");
  EXPECT_EQ(SanitizeUtf8Fields(&report), 1);
  // The handler still sees what is logged outside the repair.
  v1::HealthReport invalid;
  invalid.add_checks()->set_message("bad \xFF");
  std::string wire;
  invalid.SerializeToString(&wire);
  google::protobuf::SetLogHandler(old);
  ASSERT_EQ(logged->size(), 1u);
  EXPECT_NE((*logged)[0].find("invalid UTF-8"), std::string::npos)
      << (*logged)[0];
}

}  // namespace
}  // namespace internal
}  // namespace http
}  // namespace vigil
