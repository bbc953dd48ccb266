#include "health/grpc/internal/watch_mailbox.h"

#include <atomic>
#include <deque>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "health/sync.h"

namespace vigil {
namespace grpc_health {
namespace internal {
namespace {

using Kind = WatchMailbox::Action::Kind;

TEST(WatchMailboxTest, FirstStatusIsWrittenAtOnceAndRepeatsAreNot) {
  WatchMailbox m;
  WatchMailbox::Action a = m.Offer(Serving::kServing, 1);
  EXPECT_EQ(a.kind, Kind::kWrite);
  EXPECT_EQ(a.status, Serving::kServing);
  EXPECT_EQ(m.OnWriteDone(true).kind, Kind::kNone);
  EXPECT_EQ(m.Offer(Serving::kServing, 2).kind, Kind::kNone);
  a = m.Offer(Serving::kNotServing, 3);
  EXPECT_EQ(a.kind, Kind::kWrite);
  EXPECT_EQ(a.status, Serving::kNotServing);
}

TEST(WatchMailboxTest, SlowStreamKeepsOnlyTheLatestPendingStatus) {
  WatchMailbox m;
  ASSERT_EQ(m.Offer(Serving::kServing, 1).kind, Kind::kWrite);
  // The client is slow: the write is still in flight.
  EXPECT_EQ(m.Offer(Serving::kNotServing, 2).kind, Kind::kNone);
  EXPECT_EQ(m.Offer(Serving::kUnknown, 3).kind, Kind::kNone);
  EXPECT_EQ(m.Offer(Serving::kNotServing, 4).kind, Kind::kNone);
  WatchMailbox::Action a = m.OnWriteDone(true);
  EXPECT_EQ(a.kind, Kind::kWrite);
  EXPECT_EQ(a.status, Serving::kNotServing);
  EXPECT_EQ(m.OnWriteDone(true).kind, Kind::kNone);
  EXPECT_EQ(m.stats().writes, 2u);
  EXPECT_EQ(m.stats().coalesced, 2u);
}

TEST(WatchMailboxTest, PendingStatusEqualToTheOneInFlightIsDropped) {
  WatchMailbox m;
  ASSERT_EQ(m.Offer(Serving::kServing, 1).kind, Kind::kWrite);
  EXPECT_EQ(m.Offer(Serving::kNotServing, 2).kind, Kind::kNone);
  EXPECT_EQ(m.Offer(Serving::kServing, 3).kind, Kind::kNone);
  EXPECT_EQ(m.OnWriteDone(true).kind, Kind::kNone);
}

TEST(WatchMailboxTest, OfferFromAnOlderSnapshotIsIgnored) {
  WatchMailbox m;
  ASSERT_EQ(m.Offer(Serving::kNotServing, 5).kind, Kind::kWrite);
  ASSERT_EQ(m.OnWriteDone(true).kind, Kind::kNone);
  EXPECT_EQ(m.Offer(Serving::kServing, 4).kind, Kind::kNone);
  EXPECT_EQ(m.Offer(Serving::kServing, 6).kind, Kind::kWrite);
}

TEST(WatchMailboxTest, CloseSendsTheLatestStatusThenFinishes) {
  WatchMailbox m;
  ASSERT_EQ(m.Offer(Serving::kServing, 1).kind, Kind::kWrite);
  EXPECT_EQ(m.Offer(Serving::kNotServing, 2).kind, Kind::kNone);
  EXPECT_EQ(m.Close().kind, Kind::kNone);  // Waits for the write in flight.
  EXPECT_FALSE(m.finished());
  WatchMailbox::Action a = m.OnWriteDone(true);
  EXPECT_EQ(a.kind, Kind::kWriteAndFinish);
  EXPECT_EQ(a.status, Serving::kNotServing);
  EXPECT_TRUE(m.finished());
  EXPECT_EQ(m.Offer(Serving::kServing, 3).kind, Kind::kNone);
  EXPECT_EQ(m.Close().kind, Kind::kNone);
}

TEST(WatchMailboxTest, CloseWithNothingUnsentFinishesAtOnce) {
  WatchMailbox m;
  ASSERT_EQ(m.Offer(Serving::kServing, 1).kind, Kind::kWrite);
  ASSERT_EQ(m.OnWriteDone(true).kind, Kind::kNone);
  WatchMailbox::Action a = m.Close();
  EXPECT_EQ(a.kind, Kind::kFinish);
  EXPECT_FALSE(a.cancelled);
}

TEST(WatchMailboxTest, CancelAndBrokenStreamFinishCancelledWithoutWriting) {
  WatchMailbox m;
  ASSERT_EQ(m.Offer(Serving::kServing, 1).kind, Kind::kWrite);
  EXPECT_EQ(m.Cancel().kind, Kind::kNone);  // A write is in flight.
  EXPECT_EQ(m.Offer(Serving::kNotServing, 2).kind, Kind::kNone);
  WatchMailbox::Action a = m.OnWriteDone(false);
  EXPECT_EQ(a.kind, Kind::kFinish);
  EXPECT_TRUE(a.cancelled);
  EXPECT_EQ(m.Cancel().kind, Kind::kNone);

  WatchMailbox broken;
  ASSERT_EQ(broken.Offer(Serving::kServing, 1).kind, Kind::kWrite);
  broken.Offer(Serving::kNotServing, 2);
  EXPECT_EQ(broken.OnWriteDone(false).kind, Kind::kFinish);
}

// Many threads offer what they read from a shared "snapshot" that a
// publisher flips, while a stream thread completes writes: the stream sees
// no repeated status, and after Close() its last status is the final one.
TEST(WatchMailboxTest, ConcurrentOffersNeverLoseTheFinalStatus) {
  for (int round = 0; round < 20; ++round) {
    WatchMailbox m;
    Mutex mu;
    uint64_t generation = 0;
    Serving current = Serving::kUnknown;
    std::deque<WatchMailbox::Action> actions;
    bool done = false;
    auto perform = [&](WatchMailbox::Action a) {
      if (a.kind == Kind::kNone) return;
      MutexLock lock(&mu);
      actions.push_back(a);
    };
    auto offer_current = [&] {
      Serving s;
      uint64_t g;
      {
        MutexLock lock(&mu);
        s = current;
        g = generation;
      }
      perform(m.Offer(s, g));
    };
    std::vector<Serving> written;
    int finishes = 0;
    std::thread stream([&] {
      for (;;) {
        WatchMailbox::Action a;
        {
          MutexLock lock(&mu);
          mu.Await([&] { return !actions.empty() || done; });
          if (actions.empty()) return;
          a = actions.front();
          actions.pop_front();
        }
        if (a.kind == Kind::kWrite || a.kind == Kind::kWriteAndFinish) {
          written.push_back(a.status);
        }
        if (a.kind == Kind::kWrite) {
          perform(m.OnWriteDone(true));
        } else {
          ++finishes;
        }
      }
    });
    std::atomic<bool> publishing{true};
    std::vector<std::thread> offerers;
    for (int t = 0; t < 3; ++t) {
      offerers.emplace_back([&] {
        while (publishing.load()) offer_current();
      });
    }
    const Serving cycle[] = {Serving::kServing, Serving::kNotServing,
                             Serving::kUnknown};
    Serving final_status = Serving::kUnknown;
    for (int i = 0; i < 300; ++i) {
      MutexLock lock(&mu);
      current = final_status = cycle[(i + round) % 3];
      ++generation;
    }
    publishing.store(false);
    for (std::thread& t : offerers) t.join();
    offer_current();  // The listener's call for the last publication.
    perform(m.Close());
    {
      MutexLock lock(&mu);
      mu.Await([&] { return m.finished() && actions.empty(); });
      done = true;
    }
    stream.join();
    ASSERT_FALSE(written.empty());
    EXPECT_EQ(written.back(), final_status) << "round " << round;
    for (size_t i = 1; i < written.size(); ++i) {
      EXPECT_NE(written[i], written[i - 1]) << "repeated status at " << i;
    }
    EXPECT_EQ(finishes, 1);
  }
}

}  // namespace
}  // namespace internal
}  // namespace grpc_health
}  // namespace vigil
