#include "examples/sidecar/process_check.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace vigil_sidecar {
namespace {

using vigil::CheckResult;

bool ReadWhole(const std::string& path, std::string* out) {
  std::ifstream in(path);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

CheckResult Probe(const ProcessCheckOptions& o) {
  int pid = o.pid;
  if (!o.pidfile.empty()) {
    std::string text;
    if (!ReadWhole(o.pidfile, &text)) {
      return CheckResult::Unhealthy(
          absl::StrCat("pidfile ", o.pidfile, ": ", std::strerror(errno)));
    }
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &pid) || pid <= 0) {
      return CheckResult::Unhealthy(
          absl::StrCat("pidfile ", o.pidfile, ": no pid in it"));
    }
  }
  std::string root = o.proc_root;
  if (!root.empty() && root.back() == '/') root.pop_back();
  const std::string path = absl::StrCat(root, "/proc/", pid, "/stat");
  std::string stat;
  if (!ReadWhole(path, &stat) || stat.empty()) {
    return CheckResult::Unhealthy(absl::StrCat("pid ", pid, " not running"));
  }
  // "<pid> (<comm>) <state> ...": comm may contain spaces and parentheses,
  // so the state follows the last ')'.
  const size_t open = stat.find('(');
  const size_t close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos ||
      close + 2 >= stat.size()) {
    return CheckResult::Unhealthy(absl::StrCat(path, ": unparsable"));
  }
  const std::string comm = stat.substr(open + 1, close - open - 1);
  const char state = stat[close + 2];
  const std::string who = absl::StrCat("pid ", pid, " (", comm, ")");
  switch (state) {
    case 'Z':
      return CheckResult::Unhealthy(absl::StrCat(who, " is a zombie"));
    case 'X':
    case 'x':
      return CheckResult::Unhealthy(absl::StrCat(who, " is dead"));
    case 'T':
    case 't':
      return CheckResult::Unhealthy(absl::StrCat(who, " is stopped"));
    default:
      return CheckResult::Healthy(
          absl::StrCat(who, " running (state ", std::string(1, state), ")"));
  }
}

}  // namespace

absl::StatusOr<vigil::Check> ProcessCheck(ProcessCheckOptions options) {
  if ((options.pid > 0) == !options.pidfile.empty()) {
    return absl::InvalidArgumentError(
        "pid/pidfile: exactly one of pid (> 0) and pidfile is required");
  }
  if (options.pid < 0) {
    return absl::InvalidArgumentError("pid: must be > 0");
  }
  if (options.proc_root.empty() || options.proc_root[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "proc_root: must be absolute, got \"", options.proc_root, "\""));
  }
  vigil::Check check;
  check.name =
      !options.name.empty() ? options.name
      : options.pid > 0
          ? absl::StrCat("process:", options.pid)
          : absl::StrCat("process:", options.pidfile.substr(
                                         options.pidfile.rfind('/') + 1));
  check.options = options.check;
  check.function = [o = std::move(options)](const vigil::CheckContext&) {
    return Probe(o);
  };
  if (absl::Status s = vigil::ValidateCheck(check); !s.ok()) return s;
  return check;
}

}  // namespace vigil_sidecar
