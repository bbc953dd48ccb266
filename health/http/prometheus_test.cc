#include "health/http/prometheus.h"

#include <cmath>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil {
namespace http {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

TEST(PrometheusWriterTest, WritesHelpTypeAndSamples) {
  PrometheusWriter w;
  ASSERT_TRUE(
      w.BeginFamily("app_queue_depth", MetricType::kGauge, "Items waiting."));
  EXPECT_TRUE(w.Add({{"queue", "a"}}, 3));
  EXPECT_TRUE(w.Add({{"queue", "b"}, {"shard", "1"}}, 0.5));
  ASSERT_TRUE(w.Counter("app_jobs_total", "Jobs done.", 12));
  EXPECT_EQ(w.text(),
            "# HELP app_queue_depth Items waiting.\n"
            "# TYPE app_queue_depth gauge\n"
            "app_queue_depth{queue=\"a\"} 3\n"
            "app_queue_depth{queue=\"b\",shard=\"1\"} 0.5\n"
            "# HELP app_jobs_total Jobs done.\n"
            "# TYPE app_jobs_total counter\n"
            "app_jobs_total 12\n");
  EXPECT_THAT(w.errors(), IsEmpty());
}

TEST(PrometheusWriterTest, EscapesLabelValuesAndHelp) {
  PrometheusWriter w;
  ASSERT_TRUE(w.BeginFamily("x", MetricType::kUntyped, "a\\b\nc \"q\""));
  ASSERT_TRUE(w.Add({{"v", "back\\slash \"quoted\"\nnewline"}}, 1));
  EXPECT_EQ(w.text(),
            "# HELP x a\\\\b\\nc \"q\"\n"
            "# TYPE x untyped\n"
            "x{v=\"back\\\\slash \\\"quoted\\\"\\nnewline\"} 1\n");
}

TEST(PrometheusWriterTest, ReplacesInvalidUtf8InLabelValues) {
  EXPECT_EQ(internal::EscapeLabelValue("ok \xC3\xA9 \xFF end"),
            "ok \xC3\xA9 \xEF\xBF\xBD end");
  // Truncated sequence, overlong encoding, surrogate.
  EXPECT_EQ(internal::EscapeLabelValue("\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(internal::EscapeLabelValue("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(internal::EscapeLabelValue("\xED\xA0\x80"),
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(internal::EscapeLabelValue("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
}

TEST(PrometheusWriterTest, FormatsValuesExactly) {
  using internal::FormatPrometheusValue;
  EXPECT_EQ(FormatPrometheusValue(0), "0");
  EXPECT_EQ(FormatPrometheusValue(0.1), "0.1");
  EXPECT_EQ(FormatPrometheusValue(1767225600.25), "1767225600.25");
  EXPECT_EQ(FormatPrometheusValue(1e-9), "1e-09");
  EXPECT_EQ(FormatPrometheusValue(-3), "-3");
  EXPECT_EQ(FormatPrometheusValue(std::numeric_limits<double>::infinity()),
            "+Inf");
  EXPECT_EQ(FormatPrometheusValue(-std::numeric_limits<double>::infinity()),
            "-Inf");
  EXPECT_EQ(FormatPrometheusValue(std::nan("")), "NaN");
  // Round trip of an awkward value.
  const double v = 0.1 + 0.2;
  EXPECT_EQ(std::stod(FormatPrometheusValue(v)), v);
}

TEST(PrometheusWriterTest, RejectsMalformedNamesAndDropsTheirSamples) {
  PrometheusWriter w;
  EXPECT_FALSE(w.BeginFamily("9starts_with_digit", MetricType::kGauge, "h"));
  EXPECT_FALSE(w.Add(1));
  EXPECT_FALSE(w.BeginFamily("has-dash", MetricType::kGauge, "h"));
  EXPECT_FALSE(w.BeginFamily("", MetricType::kGauge, "h"));
  EXPECT_EQ(w.text(), "");
  EXPECT_THAT(w.errors(), SizeIs(3));

  ASSERT_TRUE(w.BeginFamily("ok_name:sub", MetricType::kGauge, "h"));
  EXPECT_FALSE(w.Add({{"__reserved", "x"}}, 1));
  EXPECT_FALSE(w.Add({{"bad-label", "x"}}, 1));
  EXPECT_FALSE(w.Add({{"a", "1"}, {"a", "2"}}, 1));
  EXPECT_TRUE(w.Add({{"good_label", "x"}}, 1));
  EXPECT_THAT(w.text(), HasSubstr("ok_name:sub{good_label=\"x\"} 1\n"));
  EXPECT_THAT(w.text(), ::testing::Not(HasSubstr("reserved")));
  EXPECT_THAT(w.errors(), SizeIs(6));
}

TEST(PrometheusWriterTest, RejectsDuplicateFamiliesAndCountersWithoutTotal) {
  PrometheusWriter w;
  ASSERT_TRUE(w.Gauge("dup", "first", 1));
  EXPECT_FALSE(w.Gauge("dup", "second", 2));
  EXPECT_FALSE(w.Counter("requests", "no suffix", 3));
  EXPECT_EQ(w.text(), "# HELP dup first\n# TYPE dup gauge\ndup 1\n");
  EXPECT_THAT(w.errors(), ElementsAre(HasSubstr("dup written twice"),
                                      HasSubstr("does not end in _total")));
}

TEST(PrometheusWriterTest, SampleBeforeAnyFamilyIsAnError) {
  PrometheusWriter w;
  EXPECT_FALSE(w.Add(1));
  EXPECT_EQ(w.text(), "");
  EXPECT_THAT(w.errors(), ElementsAre(HasSubstr("before any family")));
}

}  // namespace
}  // namespace http
}  // namespace vigil
