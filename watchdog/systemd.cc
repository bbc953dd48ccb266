#include "watchdog/systemd.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "watchdog/internal/lifeline.h"
#include "watchdog/internal/procfs.h"

namespace vigil {
namespace {

// getenv() is safe against concurrent getenv(); unsetenv() is not (glibc
// may free or move the environment under a reader in another thread). So
// the variables are removed only while this process has a single thread.
std::string TakeVariable(const char* name, bool remove) {
  const char* v = std::getenv(name);
  std::string value = v != nullptr ? v : "";
  if (remove && v != nullptr) unsetenv(name);
  return value;
}

bool SingleThreaded() {
  absl::StatusOr<int> threads = internal::ThreadCount("");
  return threads.ok() && *threads == 1;
}

Mutex g_env_mu;
std::optional<SystemdEnvironment>* TakenLocked()
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(g_env_mu) {
  static std::optional<SystemdEnvironment>* const taken =
      new std::optional<SystemdEnvironment>();
  return taken;
}

SystemdEnvironment ReadLocked(bool remove)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(g_env_mu) {
  SystemdEnvironment env;
  env.notify_socket = TakeVariable("NOTIFY_SOCKET", remove);
  uint64_t usec = 0;
  if (absl::SimpleAtoi(TakeVariable("WATCHDOG_USEC", remove), &usec) &&
      usec > 0) {
    env.watchdog_timeout = absl::Microseconds(usec);
  }
  int64_t pid = 0;
  if (absl::SimpleAtoi(TakeVariable("WATCHDOG_PID", remove), &pid) && pid > 0) {
    env.watchdog_pid = static_cast<pid_t>(pid);
  }
  return env;
}

// Runs when the program (or the library) is loaded, before main() and
// normally before any thread exists: takes the variables then, so that no
// later call has to touch the environment while threads run. When none is
// set there is nothing to take, and a later first call reads afresh.
__attribute__((constructor)) void TakeAtLoad() {
  if (std::getenv("NOTIFY_SOCKET") == nullptr &&
      std::getenv("WATCHDOG_USEC") == nullptr &&
      std::getenv("WATCHDOG_PID") == nullptr) {
    return;
  }
  MutexLock lock(&g_env_mu);
  if (!TakenLocked()->has_value())
    *TakenLocked() = ReadLocked(SingleThreaded());
}

}  // namespace

bool SystemdEnvironment::WatchdogEnabledFor(pid_t pid) const {
  return watchdog_timeout > absl::ZeroDuration() &&
         (watchdog_pid == 0 || watchdog_pid == pid);
}

SystemdEnvironment TakeSystemdEnvironment() {
  MutexLock lock(&g_env_mu);
  std::optional<SystemdEnvironment>* taken = TakenLocked();
  if (!taken->has_value()) *taken = ReadLocked(SingleThreaded());
  return **taken;
}

absl::Status SdNotify(absl::string_view socket, absl::string_view message) {
  if (message.empty()) {
    return absl::InvalidArgumentError("message: empty");
  }
  sockaddr_un addr;
  std::memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  if (socket.empty() || socket.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("NOTIFY_SOCKET: bad address \"", socket, "\""));
  }
  std::memcpy(addr.sun_path, socket.data(), socket.size());
  socklen_t len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket.size());
  if (socket[0] == '@') {
    addr.sun_path[0] = '\0';  // Abstract: no terminating NUL counted.
  } else {
    len += 1;
  }
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("socket(AF_UNIX): ", std::strerror(errno)));
  }
  const ssize_t n = sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                           reinterpret_cast<const sockaddr*>(&addr), len);
  const int err = errno;
  close(fd);
  if (n < 0) {
    return absl::UnavailableError(
        absl::StrCat("sendto ", socket, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

std::function<bool()> LivenessOf(const HealthRegistry& registry) {
  const HealthRegistry* r = &registry;
  return [r] { return IsPassing(r->GroupStatus(kLiveness)); };
}

SystemdNotifier::SystemdNotifier(SystemdNotifierOptions options)
    : clock_(options.clock != nullptr ? options.clock : Clock::Real()),
      liveness_(std::move(options.liveness)),
      supervised_interval_(options.supervised_interval) {
  supervised_ = internal::AttachedLifeline() != nullptr;
  if (!supervised_) {
    const SystemdEnvironment env = options.environment.has_value()
                                       ? *options.environment
                                       : TakeSystemdEnvironment();
    socket_ = env.notify_socket;
    if (!socket_.empty() && env.WatchdogEnabledFor(getpid())) {
      ping_interval_ = env.watchdog_timeout / 2;
    }
  }
  const bool loop = watchdog_enabled() || supervised_;
  if (options.start_thread && loop) {
    thread_ = std::thread([this] {
      for (;;) {
        const absl::Time next = Step();
        MutexLock lock(&mu_);
        if (clock_->AwaitWithDeadline(
                &mu_, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stop_; },
                next)) {
          return;
        }
      }
    });
  }
}

SystemdNotifier::~SystemdNotifier() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::Status SystemdNotifier::Send(absl::string_view message) {
  if (socket_.empty()) return absl::OkStatus();
  return SdNotify(socket_, message);
}

absl::Status SystemdNotifier::Ready() {
  if (internal::LifelineBlock* b = internal::AttachedLifeline()) {
    b->ready.store(1, std::memory_order_release);
    return absl::OkStatus();
  }
  return Send("READY=1");
}

absl::Status SystemdNotifier::SetStatus(absl::string_view text) {
  const std::string line = absl::StrReplaceAll(text, {{"\n", " "}});
  if (internal::LifelineBlock* b = internal::AttachedLifeline()) {
    b->status.Write(line);
    return absl::OkStatus();
  }
  return Send(absl::StrCat("STATUS=", line));
}

absl::Status SystemdNotifier::Stopping() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (internal::LifelineBlock* b = internal::AttachedLifeline()) {
    b->stopping.store(1, std::memory_order_release);
    return absl::OkStatus();
  }
  return Send("STOPPING=1");
}

absl::Time SystemdNotifier::RunOnceForTest() { return Step(); }

absl::Time SystemdNotifier::Step() {
  {
    MutexLock lock(&mu_);
    if (stopping_) return absl::InfiniteFuture();
  }
  const bool alive = !liveness_ || liveness_();
  const absl::Time now = clock_->Now();
  if (internal::LifelineBlock* b = internal::AttachedLifeline()) {
    b->liveness.store(
        static_cast<uint32_t>(alive ? internal::LifelineLiveness::kPassing
                                    : internal::LifelineLiveness::kFailing),
        std::memory_order_release);
    return now + supervised_interval_;
  }
  if (!watchdog_enabled()) return absl::InfiniteFuture();
  // A failed send is retried on the next step; systemd tolerates a miss
  // within WATCHDOG_USEC, which is why pings go at half of it.
  if (alive) Send("WATCHDOG=1").IgnoreError();
  return now + ping_interval_;
}

}  // namespace vigil
