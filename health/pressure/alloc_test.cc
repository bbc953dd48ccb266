// Steady-state sampling allocates nothing: the global operator new is
// replaced by one that counts, and every detector's Sample() is run many
// times after a warm-up (the first samples size the read buffers).

#include <atomic>
#include <cstdlib>
#include <new>

#include "gtest/gtest.h"
#include "health/pressure/cpu.h"
#include "health/pressure/disk.h"
#include "health/pressure/fds.h"
#include "health/pressure/io.h"
#include "health/pressure/memory.h"
#include "health/pressure/tasks.h"
#include "health/pressure/testing/test_util.h"
#include "health/testing/fake_clock.h"
#include "health/testing/require.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(size_t size) {
  if (g_counting.load(std::memory_order_relaxed)) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace vigil {
namespace pressure {
namespace {

// Allocations made by `n` calls of `fn` after three warm-up calls.
template <typename Fn>
long AllocationsOf(Fn fn, int n = 200) {
  for (int i = 0; i < 3; ++i) fn();
  g_allocations = 0;
  g_counting = true;
  for (int i = 0; i < n; ++i) fn();
  g_counting = false;
  return g_allocations.load();
}

class AllocTest : public ::testing::TestWithParam<const char*> {
 protected:
  bool OnThisMachine() const { return GetParam() == std::string("/"); }
  std::string Root() {
    return OnThisMachine() ? "/" : testing::FixtureRoot(GetParam());
  }
  vigil::testing::FakeClock clock_;
  // Time must move for trends to keep adding samples.
  void Tick() { clock_.Advance(absl::Seconds(1)); }
};

TEST_P(AllocTest, MemorySampleAllocatesNothing) {
  MemoryOptions o;
  o.source.root = Root();
  o.clock = &clock_;
  auto d = *MemoryDetector::Create(o);
  EXPECT_EQ(AllocationsOf([&] {
              Tick();
              d->Sample();
            }),
            0);
}

TEST_P(AllocTest, CpuSampleAllocatesNothing) {
  CpuOptions o;
  o.source.root = Root();
  o.clock = &clock_;
  absl::StatusOr<std::unique_ptr<CpuDetector>> d = CpuDetector::Create(o);
  // Every fixture has the files; this machine needs PSI or a CPU cgroup.
  if (!OnThisMachine()) {
    ASSERT_TRUE(d.ok()) << d.status();
  }
  VIGIL_REQUIRE_OR_SKIP(d.ok(), d.status());
  EXPECT_EQ(AllocationsOf([&] {
              Tick();
              (*d)->Sample();
            }),
            0);
}

TEST_P(AllocTest, IoSampleAllocatesNothing) {
  IoOptions o;
  o.source.root = Root();
  o.clock = &clock_;
  absl::StatusOr<std::unique_ptr<IoDetector>> d = IoDetector::Create(o);
  // Every fixture has the files; this machine needs PSI.
  if (!OnThisMachine()) {
    ASSERT_TRUE(d.ok()) << d.status();
  }
  VIGIL_REQUIRE_OR_SKIP(d.ok(), d.status());
  EXPECT_EQ(AllocationsOf([&] {
              Tick();
              (*d)->Sample();
            }),
            0);
}

TEST_P(AllocTest, FdSampleAllocatesNothing) {
  FdOptions o;
  o.source.root = Root();
  o.clock = &clock_;
  auto d = *FdDetector::Create(o);
  EXPECT_EQ(AllocationsOf([&] {
              Tick();
              d->Sample();
            }),
            0);
}

TEST_P(AllocTest, TasksSampleAllocatesNothing) {
  TasksOptions o;
  o.source.root = Root();
  o.clock = &clock_;
  auto d = *TasksDetector::Create(o);
  EXPECT_EQ(AllocationsOf([&] {
              Tick();
              d->Sample();
            }),
            0);
}

INSTANTIATE_TEST_SUITE_P(Layouts, AllocTest,
                         ::testing::Values("/", "v2", "v1", "hybrid", "nested",
                                           "unreadable"));

TEST(Alloc, DiskSampleAllocatesNothing) {
  vigil::testing::FakeClock clock;
  DiskOptions o;
  o.path = "/";
  o.clock = &clock;
  auto d = *DiskDetector::Create(o);
  EXPECT_EQ(AllocationsOf([&] {
              clock.Advance(absl::Seconds(1));
              d->Sample();
            }),
            0);
}

TEST(Alloc, TheCounterWorks) {
  EXPECT_GT(AllocationsOf([] { delete new int(1); }, 5), 0);
}

}  // namespace
}  // namespace pressure
}  // namespace vigil
