#include "health/checks/compose.h"

#include <algorithm>
#include <exception>
#include <memory>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace vigil {
namespace checks {
namespace {

CheckResult RunChild(const Check& child, const CheckContext& parent) {
  CheckContext ctx;
  ctx.name = child.name;
  ctx.start = parent.start;
  ctx.deadline = parent.deadline;
  // The child's own timeout, counted from the composite's start, if sooner.
  if (parent.deadline != absl::UnixEpoch() &&
      parent.start + child.options.timeout < parent.deadline) {
    ctx.deadline = parent.start + child.options.timeout;
  }
  CheckResult r;
  try {
    r = child.function(ctx);
  } catch (const std::exception& e) {
    r = CheckResult::Unhealthy(absl::StrCat("check threw: ", e.what()));
  } catch (...) {
    r = CheckResult::Unhealthy("check threw a non-standard exception");
  }
  if (r.status == Status::kUnknown) {
    r.status = Status::kUnhealthy;
    if (r.message.empty()) r.message = "check returned no status";
  }
  return r;
}

absl::StatusOr<Check> Build(
    std::string name, std::vector<Check> checks, CheckOptions options,
    std::function<CheckResult(const std::vector<Check>&, const CheckContext&)>
        run) {
  if (checks.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("checks: composite \"", name, "\" needs at least one"));
  }
  std::set<std::string> names;
  for (const Check& c : checks) {
    if (c.name.empty() || !c.function) {
      return absl::InvalidArgumentError(absl::StrCat(
          "checks: every child of \"", name, "\" needs a name and a function"));
    }
    if (!names.insert(c.name).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "checks: duplicate child name \"", c.name, "\" in \"", name, "\""));
    }
    if (c.options.kind == CheckKind::kDependency) {
      options.kind = CheckKind::kDependency;
    }
  }
  Check check;
  check.name = std::move(name);
  check.options = std::move(options);
  auto children = std::make_shared<const std::vector<Check>>(std::move(checks));
  check.function = [children, run](const CheckContext& ctx) {
    return run(*children, ctx);
  };
  if (absl::Status s = ValidateCheck(check); !s.ok()) return s;
  return check;
}

}  // namespace

absl::StatusOr<Check> AllOf(std::string name, std::vector<Check> checks,
                            CheckOptions options) {
  return Build(
      std::move(name), std::move(checks), std::move(options),
      [](const std::vector<Check>& children, const CheckContext& ctx) {
        Status worst = Status::kHealthy;
        std::vector<std::string> failing;
        CheckResult out;
        for (const Check& child : children) {
          CheckResult r = RunChild(child, ctx);
          if (child.options.critical) {
            worst = Worse(worst, r.status);
          } else if (r.status != Status::kHealthy) {
            worst = Worse(worst, Status::kDegraded);
          }
          if (r.status != Status::kHealthy) {
            failing.push_back(absl::StrCat(child.name, ": ", r.message));
          }
          out.details[child.name + ".status"] =
              std::string(StatusName(r.status));
          out.details[child.name + ".message"] = r.message;
        }
        out.status = worst;
        const size_t n = children.size();
        out.message =
            failing.empty()
                ? absl::StrCat(n, " of ", n, " passing")
                : absl::StrCat(failing.size(), " of ", n,
                               " failing: ", absl::StrJoin(failing, "; "));
        return out;
      });
}

absl::StatusOr<Check> AnyOf(std::string name, std::vector<Check> checks,
                            CheckOptions options) {
  return Build(
      std::move(name), std::move(checks), std::move(options),
      [](const std::vector<Check>& children, const CheckContext& ctx) {
        CheckResult out;
        std::vector<std::string> failing;
        Status best = Status::kUnhealthy;
        std::string best_message;
        for (const Check& child : children) {
          CheckResult r = RunChild(child, ctx);
          out.details[child.name + ".status"] =
              std::string(StatusName(r.status));
          out.details[child.name + ".message"] = r.message;
          if (r.status == Status::kHealthy) {
            out.status = Status::kHealthy;
            out.message = absl::StrCat(child.name, ": ", r.message);
            return out;
          }
          if (r.status == Status::kDegraded && best != Status::kDegraded) {
            best = Status::kDegraded;
            best_message = absl::StrCat(child.name, ": ", r.message);
          }
          failing.push_back(absl::StrCat(child.name, ": ", r.message));
        }
        out.status = best;
        out.message =
            best == Status::kDegraded
                ? best_message
                : absl::StrCat("all ", children.size(),
                               " failing: ", absl::StrJoin(failing, "; "));
        return out;
      });
}

Check NonCritical(Check check) {
  check.options.critical = false;
  return check;
}

}  // namespace checks
}  // namespace vigil
