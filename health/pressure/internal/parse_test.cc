#include "health/pressure/internal/parse.h"

#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace vigil {
namespace pressure {
namespace internal {
namespace {

TEST(ParseUint, AcceptsDecimalsWithWhitespace) {
  EXPECT_EQ(ParseUint("42\n"), 42u);
  EXPECT_EQ(ParseUint("  7 "), 7u);
  EXPECT_EQ(ParseUint("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(ParseUint("").has_value());
  EXPECT_FALSE(ParseUint("-1").has_value());
  EXPECT_FALSE(ParseUint("12abc").has_value());
  EXPECT_FALSE(ParseUint("max").has_value());
}

TEST(ParseUint, WhitespaceSignsAndOverflow) {
  EXPECT_EQ(ParseUint("\t\v\f\r 9 \r\n"), 9u);  // Every ASCII blank.
  EXPECT_EQ(ParseUint("007"), 7u);
  EXPECT_EQ(ParseUint("0"), 0u);
  EXPECT_FALSE(ParseUint(" \n\t").has_value());
  EXPECT_FALSE(ParseUint("+5").has_value());
  EXPECT_FALSE(ParseUint("1 2").has_value());
  EXPECT_FALSE(ParseUint("1.5").has_value());
  EXPECT_FALSE(ParseUint("0x10").has_value());
  // One past UINT64_MAX, and far past it.
  EXPECT_FALSE(ParseUint("18446744073709551616").has_value());
  EXPECT_FALSE(ParseUint("99999999999999999999999").has_value());
  EXPECT_EQ(ParseUint("00000000000000000000018446744073709551615"), UINT64_MAX);
}

TEST(ParseLimit, MaxAndHugeValuesMeanUnlimited) {
  EXPECT_EQ(ParseLimit("max\n"), kUnlimited);                  // v2
  EXPECT_EQ(ParseLimit("9223372036854771712\n"), kUnlimited);  // v1 4K pages
  EXPECT_EQ(ParseLimit("9223372036854775807"), kUnlimited);    // LONG_MAX
  EXPECT_EQ(ParseLimit("-1\n"), kUnlimited);                   // v1 cfs quota
  EXPECT_EQ(ParseLimit("536870912\n"), 536870912u);
  EXPECT_EQ(ParseLimit("50000 100000\n"), 50000u);  // cpu.max: quota first.
  EXPECT_EQ(ParseLimit("max 100000\n"), kUnlimited);
  // Just below the 2^62 cut-off: a real (if absurd) limit.
  EXPECT_EQ(ParseLimit("4611686018427387903"), 4611686018427387903u);
  EXPECT_FALSE(ParseLimit("garbage").has_value());
  EXPECT_FALSE(ParseLimit("").has_value());
}

TEST(ParseFlatKeyed, FindsRequestedKeysInOnePass) {
  std::optional<uint64_t> inactive, total_inactive, missing;
  const KeyedField fields[] = {{"inactive_file", &inactive},
                               {"total_inactive_file", &total_inactive},
                               {"no_such_key", &missing}};
  EXPECT_EQ(ParseFlatKeyed("active_file 10\ninactive_file 5242880\n"
                           "total_inactive_file 10485760\n",
                           fields),
            2);
  EXPECT_EQ(inactive, 5242880u);
  EXPECT_EQ(total_inactive, 10485760u);
  EXPECT_FALSE(missing.has_value());
}

TEST(ParseFlatKeyed, KeyMustMatchWholeToken) {
  // "oom" must not match "oom_kill" and vice versa.
  std::optional<uint64_t> oom, oom_kill;
  const KeyedField fields[] = {{"oom", &oom}, {"oom_kill", &oom_kill}};
  ParseFlatKeyed("low 0\nhigh 0\nmax 7\noom_kill 1\noom 2\noom_group_kill 0\n",
                 fields);
  EXPECT_EQ(oom, 2u);
  EXPECT_EQ(oom_kill, 1u);
}

TEST(ParseFlatKeyed, BlanksPrefixesAndMissingValues) {
  std::optional<uint64_t> a, b, c, d;
  const KeyedField fields[] = {
      {"inactive_file", &a}, {"nr_periods", &b}, {"oom", &c}, {"max", &d}};
  EXPECT_EQ(ParseFlatKeyed("inactive_file_x 1\n"         // Longer key.
                           "inactive_fil 2\n"            // Shorter key.
                           "  \tinactive_file\t 3 \n"    // Leading blanks, tab.
                           "nr_periods\n"                // No value.
                           "nr_periods 4\n"              // Then a value.
                           "oom max\n"                   // Not a number.
                           "max 18446744073709551616\n"  // Overflows.
                           "\n   \n",
                           fields),
            2);
  EXPECT_EQ(a, 3u);
  EXPECT_EQ(b, 4u);
  EXPECT_FALSE(c.has_value());
  EXPECT_FALSE(d.has_value());
}

TEST(ParseFlatKeyed, FirstParseableOccurrenceWins) {
  std::optional<uint64_t> a, b;
  const KeyedField fields[] = {{"a", &a}, {"b", &b}};
  EXPECT_EQ(
      ParseFlatKeyed("a x\na 1\na 2\nb 18446744073709551615\nb 3", fields), 2);
  EXPECT_EQ(a, 1u);
  EXPECT_EQ(b, UINT64_MAX);
  // No trailing newline on the last line, and a file without the keys.
  EXPECT_EQ(ParseFlatKeyed("b 5", fields), 1);
  EXPECT_EQ(b, 5u);
  EXPECT_EQ(ParseFlatKeyed("", fields), 0);
  EXPECT_FALSE(a.has_value() || b.has_value());
}

TEST(ParseFlatKeyed, RepeatedKeyInFieldsTakesSuccessiveLines) {
  std::optional<uint64_t> first, second;
  const KeyedField fields[] = {{"k", &first}, {"k", &second}};
  EXPECT_EQ(ParseFlatKeyed("k 1\nk 2\nk 3\n", fields), 2);
  EXPECT_EQ(first, 1u);
  EXPECT_EQ(second, 2u);
}

TEST(ParseFlatKeyed, ResetsFieldsAndSkipsBadValues) {
  std::optional<uint64_t> a = 99;
  const KeyedField fields[] = {{"a", &a}};
  EXPECT_EQ(ParseFlatKeyed("a notanumber\n", fields), 0);
  EXPECT_FALSE(a.has_value());
}

TEST(ParseCpuStat, V2CountersAndThrottledUsec) {
  CpuStat stat;
  EXPECT_TRUE(
      ParseCpuStat("usage_usec 900\nnr_periods 1200\nnr_throttled 149\n"
                   "throttled_usec 7000000\nnr_bursts 0\n",
                   &stat));
  EXPECT_EQ(stat.nr_periods, 1200u);
  EXPECT_EQ(stat.nr_throttled, 149u);
  EXPECT_EQ(stat.throttled, absl::Seconds(7));
}

TEST(ParseCpuStat, V1ThrottledTimeInNanoseconds) {
  CpuStat stat;
  EXPECT_TRUE(ParseCpuStat(
      "nr_periods 500\nnr_throttled 50\nthrottled_time 2500000000\n", &stat));
  EXPECT_EQ(stat.nr_periods, 500u);
  EXPECT_EQ(stat.throttled, absl::Milliseconds(2500));
}

TEST(ParseCpuStat, UsecWinsOverTimeAndHugeCountersSaturate) {
  CpuStat stat;
  EXPECT_TRUE(ParseCpuStat("throttled_time 9\nthrottled_usec 3\n", &stat));
  EXPECT_EQ(stat.throttled, absl::Microseconds(3));
  EXPECT_FALSE(stat.nr_periods.has_value());
  EXPECT_TRUE(ParseCpuStat("throttled_usec 18446744073709551615\n", &stat));
  EXPECT_EQ(stat.throttled, absl::InfiniteDuration());
}

TEST(ParseCpuStat, NoCountersResetsEverything) {
  CpuStat stat;
  stat.nr_periods = 1;
  stat.nr_throttled = 2;
  stat.throttled = absl::Seconds(3);
  // A v2 cgroup without the cpu controller has usage figures only.
  EXPECT_FALSE(ParseCpuStat("usage_usec 5\nuser_usec 3\n", &stat));
  EXPECT_FALSE(stat.nr_periods.has_value());
  EXPECT_FALSE(stat.nr_throttled.has_value());
  EXPECT_FALSE(stat.throttled.has_value());
}

TEST(ParsePsi, ParsesSomeAndFull) {
  PsiContent c;
  ASSERT_TRUE(
      ParsePsi("some avg10=1.50 avg60=0.75 avg300=0.10 total=5555\n"
               "full avg10=0.25 avg60=0.12 avg300=0.00 total=2777\n",
               &c));
  ASSERT_TRUE(c.some && c.full);
  EXPECT_DOUBLE_EQ(c.some->avg10, 1.5);
  EXPECT_DOUBLE_EQ(c.some->avg60, 0.75);
  EXPECT_DOUBLE_EQ(c.some->avg300, 0.10);
  EXPECT_EQ(c.some->total_us, 5555u);
  EXPECT_DOUBLE_EQ(c.full->avg10, 0.25);
  EXPECT_EQ(c.full->total_us, 2777u);
}

TEST(ParsePsi, FullLineIsOptional) {
  // /proc/pressure/cpu before Linux 5.13 has only "some".
  PsiContent c;
  ASSERT_TRUE(ParsePsi("some avg10=3.00 avg60=2.00 avg300=1.00 total=9\n", &c));
  EXPECT_FALSE(c.full.has_value());
}

TEST(ParsePsi, RejectsGarbage) {
  PsiContent c;
  EXPECT_FALSE(ParsePsi("", &c));
  EXPECT_FALSE(ParsePsi("some avg10=x total=1\n", &c));
  EXPECT_FALSE(ParsePsi("full avg10=1.00 avg60=0 avg300=0 total=1\n", &c));
}

// The averages the kernel writes (two decimals) are parsed without strtod:
// every one must give the very double SimpleAtod gives.
TEST(ParsePsi, AveragesEqualSimpleAtodBitForBit) {
  for (int hundredths = 0; hundredths <= 100000; ++hundredths) {
    char avg[32];
    std::snprintf(avg, sizeof(avg), "%d.%02d", hundredths / 100,
                  hundredths % 100);
    double want;
    ASSERT_TRUE(absl::SimpleAtod(avg, &want));
    PsiContent c;
    ASSERT_TRUE(ParsePsi(absl::StrCat("some avg10=", avg, " avg60=", avg,
                                      " avg300=", avg, " total=1\n"),
                         &c))
        << avg;
    EXPECT_EQ(std::memcmp(&c.some->avg10, &want, sizeof(double)), 0) << avg;
    EXPECT_EQ(std::memcmp(&c.some->avg300, &want, sizeof(double)), 0) << avg;
  }
}

TEST(ParsePsi, UnusualAveragesMatchSimpleAtod) {
  for (const char* avg :
       {"0", "7", "100", "0.5", "1.234", "12.", ".5", "1e2", "-1.00",
        "123456789012345", "1234567890123456", "123456789012.345",
        "0.1234567890123456789", "99999999999999999999.99", "00000000000000.01",
        "1.7976931348623157e308"}) {
    double want;
    ASSERT_TRUE(absl::SimpleAtod(avg, &want)) << avg;
    PsiContent c;
    ASSERT_TRUE(ParsePsi(absl::StrCat("some avg10=", avg, " total=1"), &c))
        << avg;
    EXPECT_EQ(std::memcmp(&c.some->avg10, &want, sizeof(double)), 0) << avg;
  }
}

TEST(ParsePsi, MissingAndMalformedFields) {
  PsiContent c;
  // avg60 and avg300 may be missing; avg10 and total may not.
  ASSERT_TRUE(ParsePsi("some avg10=1.00 total=5", &c));
  EXPECT_DOUBLE_EQ(c.some->avg10, 1.0);
  EXPECT_EQ(c.some->avg60, 0.0);
  EXPECT_FALSE(ParsePsi("some avg60=1.00 total=5\n", &c));
  EXPECT_FALSE(ParsePsi("some avg10=1.00\n", &c));
  EXPECT_FALSE(ParsePsi("some avg10= total=1\n", &c));
  EXPECT_FALSE(ParsePsi("some avg10=1.0.0 total=1\n", &c));
  EXPECT_FALSE(ParsePsi("some avg10=1.00x total=1\n", &c));
  EXPECT_FALSE(ParsePsi("some avg10=1.00 total=-1\n", &c));
  EXPECT_FALSE(ParsePsi("some avg10=1.00 total=18446744073709551616\n", &c));
  EXPECT_FALSE(ParsePsi("some avg10 total=1\n", &c));
  // Blanks around the line and a huge total.
  ASSERT_TRUE(
      ParsePsi("  some\tavg10=2.50  total=18446744073709551615  \n", &c));
  EXPECT_EQ(c.some->avg10, 2.5);
  EXPECT_EQ(c.some->total_us, UINT64_MAX);
  // A bad "full" line is dropped, "some" still counts.
  ASSERT_TRUE(ParsePsi("some avg10=0.00 total=1\nfull avg10=x total=1\n", &c));
  EXPECT_FALSE(c.full.has_value());
}

TEST(ParseMeminfo, ReadsTotalAndAvailableInBytes) {
  MemInfo m;
  ASSERT_TRUE(
      ParseMeminfo("MemTotal:       24589844 kB\n"
                   "MemFree:        20000000 kB\n"
                   "MemAvailable:   22679140 kB\n",
                   &m));
  EXPECT_EQ(m.total_bytes, 24589844ull * 1024);
  EXPECT_EQ(m.available_bytes, 22679140ull * 1024);
}

TEST(ParseMeminfo, OldKernelWithoutMemAvailable) {
  MemInfo m;
  ASSERT_TRUE(ParseMeminfo("MemTotal: 1000 kB\nMemFree: 10 kB\n", &m));
  EXPECT_FALSE(m.available_bytes.has_value());
  EXPECT_FALSE(ParseMeminfo("MemFree: 10 kB\n", &m));
}

TEST(ParseLimits, SoftLimitsOfOpenFilesAndProcesses) {
  const char* kLimits =
      "Limit                     Soft Limit           Hard Limit           "
      "Units     \n"
      "Max cpu time              unlimited            unlimited            "
      "seconds   \n"
      "Max processes             96364                96364                "
      "processes \n"
      "Max open files            20000                40000                "
      "files     \n";
  ProcLimits l;
  ASSERT_TRUE(ParseLimits(kLimits, &l));
  EXPECT_EQ(l.open_files, 20000u);
  EXPECT_EQ(l.processes, 96364u);
  ASSERT_TRUE(ParseLimits(
      "Max processes             unlimited            unlimited  processes\n",
      &l));
  EXPECT_EQ(l.processes, kUnlimited);
  EXPECT_FALSE(l.open_files.has_value());
  EXPECT_FALSE(ParseLimits("nothing here\n", &l));
}

TEST(ParseStatThreads, HandlesParenthesesAndSpacesInComm) {
  EXPECT_EQ(ParseStatThreads("4242 (my (odd) app) S 1 4242 4242 0 -1 4194560 "
                             "1000 0 0 0 50 20 0 0 20 0 12 0 12345 1\n"),
            12u);
  EXPECT_EQ(ParseStatThreads("1 (systemd) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 "
                             "8 20 0 1 0 9 10\n"),
            1u);
  EXPECT_FALSE(ParseStatThreads("garbage").has_value());
  EXPECT_FALSE(ParseStatThreads("1 (x) S 0 1").has_value());
  EXPECT_FALSE(ParseStatThreads("").has_value());
  // A ')' inside the name followed by a short tail: only the last counts.
  EXPECT_FALSE(ParseStatThreads("1 (a) S 0 1 1 0 -1 4 1 2 3 4 5 6 7 8 20 0 "
                                "12 0 9 (b)")
                   .has_value());
}

TEST(ParseLoadavgTasks, ReadsTotalTasks) {
  EXPECT_EQ(ParseLoadavgTasks("2.01 1.39 0.67 1/198 14261\n"), 198u);
  EXPECT_FALSE(ParseLoadavgTasks("garbage\n").has_value());
}

TEST(ParseProcCgroup, V1HybridAndV2Lines) {
  std::vector<CgroupEntry> e = ParseProcCgroup(
      "9:name=systemd:/\n4:cpu,cpuacct:/docker/abc\n0::/user.slice/app\n");
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].id, 9);
  EXPECT_EQ(e[0].controllers, std::vector<std::string>{"name=systemd"});
  EXPECT_EQ(e[1].controllers, (std::vector<std::string>{"cpu", "cpuacct"}));
  EXPECT_EQ(e[1].path, "/docker/abc");
  EXPECT_EQ(e[2].id, 0);
  EXPECT_TRUE(e[2].controllers.empty());
  EXPECT_EQ(e[2].path, "/user.slice/app");
}

TEST(ParseProcCgroup, PathMayContainColons) {
  std::vector<CgroupEntry> e = ParseProcCgroup("0::/a:b/c\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].path, "/a:b/c");
}

TEST(ParseMountinfo, FieldsAfterOptionalTagsAndEscapes) {
  std::vector<MountEntry> m = ParseMountinfo(
      "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:5 master:1 - "
      "cgroup cgroup rw,memory\n"
      "41 31 0:38 /docker/abc /sys/fs/cgroup/unified rw - cgroup2 cgroup2 "
      "rw\n"
      "50 1 8:1 / /mnt/with\\040space rw - ext4 /dev/sda1 rw\n");
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].mount_point, "/sys/fs/cgroup/memory");
  EXPECT_EQ(m[0].fs_type, "cgroup");
  EXPECT_EQ(m[0].super_options, "rw,memory");
  EXPECT_EQ(m[1].root, "/docker/abc");
  EXPECT_EQ(m[1].fs_type, "cgroup2");
  EXPECT_EQ(m[2].mount_point, "/mnt/with space");
}

// The kernel writes canonical absolute paths; a doubled slash or a "."
// component (a hand-written or corrupted file: the procfs fuzzer found
// "//sys/fs/cgroup/unified") is dropped so that paths built from the mount
// point stay lexically under it, and a relative one is not followed.
TEST(ParseMountinfo, PathsAreMadeCanonicalAndRelativeOnesSkipped) {
  std::vector<MountEntry> m = ParseMountinfo(
      "41 31 0:38 //docker/./abc/ //sys/fs/cgroup/./unified/ rw - cgroup2 "
      "cgroup2 rw\n"
      "42 31 0:39 / sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
      "43 31 0:40 docker /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
      "44 1 0:41 / / rw - ext4 /dev/sda1 rw\n");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].root, "/docker/abc");
  EXPECT_EQ(m[0].mount_point, "/sys/fs/cgroup/unified");
  EXPECT_EQ(m[1].root, "/");
  EXPECT_EQ(m[1].mount_point, "/");
}

TEST(ParseProcCgroup, PathIsMadeCanonicalButKeepsDotDot) {
  std::vector<CgroupEntry> e =
      ParseProcCgroup("0::/a//./b/\n1:cpu:/../../init.scope\n2:memory:/\n");
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].path, "/a/b");
  EXPECT_EQ(e[1].path, "/../../init.scope");
  EXPECT_EQ(e[2].path, "/");
}

}  // namespace
}  // namespace internal
}  // namespace pressure
}  // namespace vigil
