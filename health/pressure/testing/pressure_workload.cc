// A child process for the real pressure scenario tests: it consumes memory,
// disk or file descriptors at a steady, self-paced rate and reports each step
// on stdout (one line per step, flushed), so the test can sample a detector
// after every step.
//
//   pressure_workload memory STEP_KIB INTERVAL_MS MAX_MIB
//       Every INTERVAL_MS, maps STEP_KIB more anonymous memory and touches
//       every page ("allocated <bytes>"). Runs until killed (the OOM killer)
//       or MAX_MIB is reached ("done").
//   pressure_workload fill FILE CHUNK_KIB INTERVAL_MS
//       Every INTERVAL_MS, appends CHUNK_KIB to FILE ("wrote <bytes>"), until
//       a write fails with ENOSPC ("full <bytes>") or another error.
//   pressure_workload fds NOFILE
//       Lowers RLIMIT_NOFILE to NOFILE, prints "ready", then obeys stdin:
//       "o" opens one more /dev/null ("open <count>"; "emfile" when the
//       limit refuses it), "c" closes the last one ("open <count>"),
//       "q" exits.
// Pacing is absolute (clock_nanosleep TIMER_ABSTIME), so the rate stays
// steady whatever each step costs.

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

void Tick(timespec* next, long interval_ms) {
  next->tv_nsec += interval_ms * 1000000L;
  while (next->tv_nsec >= 1000000000L) {
    next->tv_nsec -= 1000000000L;
    next->tv_sec += 1;
  }
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, next, nullptr) ==
         EINTR) {
  }
}

int Memory(long step_kib, long interval_ms, long max_mib) {
  const size_t step = static_cast<size_t>(step_kib) * 1024;
  size_t total = 0;
  timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  while (total + step <= static_cast<size_t>(max_mib) * 1024 * 1024) {
    void* p = mmap(nullptr, step, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      std::printf("mmap failed: %s\n", std::strerror(errno));
      return 1;
    }
    std::memset(p, 0x5a, step);  // Touch every page: really resident.
    total += step;
    std::printf("allocated %zu\n", total);
    std::fflush(stdout);
    Tick(&next, interval_ms);
  }
  std::printf("done\n");
  return 0;
}

int Fill(const char* path, long chunk_kib, long interval_ms) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::printf("open failed: %s\n", std::strerror(errno));
    return 1;
  }
  std::vector<char> chunk(static_cast<size_t>(chunk_kib) * 1024, 'x');
  size_t total = 0;
  timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  while (true) {
    size_t off = 0;
    while (off < chunk.size()) {
      ssize_t n = write(fd, chunk.data() + off, chunk.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        if (errno == ENOSPC) {
          std::printf("full %zu\n", total);
          std::fflush(stdout);
          close(fd);
          return 0;
        }
        std::printf("write failed: %s\n", std::strerror(errno));
        return 1;
      }
      off += static_cast<size_t>(n);
      total += static_cast<size_t>(n);
    }
    std::printf("wrote %zu\n", total);
    std::fflush(stdout);
    Tick(&next, interval_ms);
  }
}

int Fds(long nofile) {
  rlimit rl{static_cast<rlim_t>(nofile), static_cast<rlim_t>(nofile)};
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    std::printf("setrlimit failed: %s\n", std::strerror(errno));
    return 1;
  }
  std::vector<int> fds;
  std::printf("ready\n");
  std::fflush(stdout);
  char cmd;
  while (read(0, &cmd, 1) == 1) {
    if (cmd == 'o') {
      int fd = open("/dev/null", O_RDONLY);
      if (fd < 0 && errno == EMFILE) {
        std::printf("emfile\n");
      } else if (fd < 0) {
        std::printf("open failed: %s\n", std::strerror(errno));
      } else {
        fds.push_back(fd);
        std::printf("open %zu\n", fds.size());
      }
    } else if (cmd == 'c') {
      if (!fds.empty()) {
        close(fds.back());
        fds.pop_back();
      }
      std::printf("open %zu\n", fds.size());
    } else if (cmd == 'q') {
      break;
    } else {
      continue;
    }
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::strcmp(argv[1], "memory") == 0) {
    return Memory(std::atol(argv[2]), std::atol(argv[3]), std::atol(argv[4]));
  }
  if (argc == 5 && std::strcmp(argv[1], "fill") == 0) {
    return Fill(argv[2], std::atol(argv[3]), std::atol(argv[4]));
  }
  if (argc == 3 && std::strcmp(argv[1], "fds") == 0) {
    return Fds(std::atol(argv[2]));
  }
  std::fprintf(stderr, "usage: see pressure_workload.cc\n");
  return 2;
}
