#include "health/pressure/internal/cgroup.h"

#include <filesystem>

#include "gtest/gtest.h"
#include "health/pressure/testing/test_util.h"
#include "health/testing/temp_dir.h"

namespace vigil {
namespace pressure {
namespace internal {
namespace {

using testing::CopyFixture;
using testing::FixtureRoot;

std::string Rel(const CgroupDir& d, const std::string& root) {
  // full_path minus the fixture root.
  EXPECT_EQ(d.full_path.rfind(root, 0), 0u) << d.full_path;
  return d.full_path.substr(root.size());
}

TEST(ResolveCgroups, PureV2) {
  const std::string root = FixtureRoot("v2");
  CgroupLayout l = ResolveCgroups(root, 0);
  EXPECT_EQ(l.mode, "v2");
  EXPECT_EQ(l.problems, "");
  for (const CgroupDir* d : {&l.memory, &l.cpu, &l.pids, &l.unified}) {
    EXPECT_EQ(d->version, CgroupVersion::kV2);
    EXPECT_EQ(d->path, "/sys/fs/cgroup/system.slice/app.service");
    EXPECT_EQ(Rel(*d, root), "/sys/fs/cgroup/system.slice/app.service");
    EXPECT_FALSE(d->is_root);
  }
  std::vector<std::string> a = l.memory.AncestorFullPaths();
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0], root + "/sys/fs/cgroup/system.slice/app.service");
  EXPECT_EQ(a[1], root + "/sys/fs/cgroup/system.slice");
  EXPECT_EQ(a[2], root + "/sys/fs/cgroup");
  EXPECT_EQ(l.memory.Describe(), "v2 /sys/fs/cgroup/system.slice/app.service");
}

TEST(ResolveCgroups, PureV1WithCoMountedControllers) {
  const std::string root = FixtureRoot("v1");
  CgroupLayout l = ResolveCgroups(root, 0);
  EXPECT_EQ(l.mode, "v1");
  EXPECT_FALSE(l.unified.ok());
  EXPECT_EQ(l.memory.version, CgroupVersion::kV1);
  EXPECT_EQ(l.memory.path, "/sys/fs/cgroup/memory/docker/abc");
  EXPECT_EQ(l.cpu.path, "/sys/fs/cgroup/cpu,cpuacct/docker/abc");
  EXPECT_EQ(l.pids.path, "/sys/fs/cgroup/pids/docker/abc");
  EXPECT_EQ(l.memory.AncestorFullPaths().size(), 3u);
}

TEST(ResolveCgroups, V1InsideAContainerWithoutCgroupNamespace) {
  // The mounts' root is /docker/abc: the process's cgroup is the top of
  // what is visible, but not the hierarchy's root.
  const std::string root = FixtureRoot("v1_container");
  CgroupLayout l = ResolveCgroups(root, 0);
  EXPECT_EQ(l.memory.path, "/sys/fs/cgroup/memory");
  EXPECT_EQ(l.memory.AncestorFullPaths().size(), 1u);
  EXPECT_FALSE(l.memory.is_root);
  EXPECT_EQ(l.pids.path, "/sys/fs/cgroup/pids");
}

TEST(ResolveCgroups, HybridUsesV1ControllersAndUnifiedForPsi) {
  const std::string root = FixtureRoot("hybrid");
  CgroupLayout l = ResolveCgroups(root, 0);
  EXPECT_EQ(l.mode, "hybrid");
  EXPECT_EQ(l.memory.version, CgroupVersion::kV1);
  EXPECT_EQ(l.memory.path, "/sys/fs/cgroup/memory/user.slice/app");
  EXPECT_EQ(l.cpu.path, "/sys/fs/cgroup/cpu/user.slice/app");
  EXPECT_EQ(l.unified.version, CgroupVersion::kV2);
  EXPECT_EQ(l.unified.path, "/sys/fs/cgroup/unified/user.slice/app");
  EXPECT_EQ(l.unified.PsiDir(), root + "/sys/fs/cgroup/unified/user.slice/app");
}

TEST(ResolveCgroups, NestedV2AncestorsUpToTheMount) {
  const std::string root = FixtureRoot("nested");
  CgroupLayout l = ResolveCgroups(root, 0);
  std::vector<std::string> a = l.memory.AncestorFullPaths();
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(a[3], root + "/sys/fs/cgroup");
}

TEST(ResolveCgroups, RootCgroupHasNoPsiDir) {
  const std::string root = CopyFixture("v2");
  vigil::testing::SetFile(root, "/proc/self/cgroup", "0::/\n");
  CgroupLayout l = ResolveCgroups(root, 0);
  EXPECT_TRUE(l.unified.is_root);
  EXPECT_EQ(l.unified.PsiDir(), "");
  EXPECT_EQ(l.unified.AncestorFullPaths().size(), 1u);
}

TEST(ResolveCgroups, AnotherProcessByPid) {
  const std::string root = CopyFixture("v2");
  std::filesystem::create_directories(root + "/proc/777");
  {
    std::FILE* f = std::fopen((root + "/proc/777/cgroup").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("0::/system.slice\n", f);
    std::fclose(f);
  }
  CgroupLayout l = ResolveCgroups(root, 777);
  EXPECT_EQ(l.memory.path, "/sys/fs/cgroup/system.slice");
}

TEST(ResolveCgroups, CgroupOutsideTheMountIsReported) {
  const std::string root = CopyFixture("v1_container");
  vigil::testing::SetFile(root, "/proc/self/cgroup", "11:memory:/other/xyz\n");
  CgroupLayout l = ResolveCgroups(root, 0);
  EXPECT_FALSE(l.memory.ok());
  EXPECT_NE(l.problems.find("outside the mount"), std::string::npos)
      << l.problems;
}

TEST(ResolveCgroups, MissingProcFilesMeanNoCgroup) {
  const std::string root = ::testing::TempDir() + "/empty-root";
  std::filesystem::create_directories(root);
  CgroupLayout l = ResolveCgroups(root, 0);
  EXPECT_EQ(l.mode, "none");
  EXPECT_FALSE(l.memory.ok());
  EXPECT_NE(l.problems.find("/proc/self/cgroup"), std::string::npos);
}

TEST(CgroupLayoutForDir, ExplicitV1Dir) {
  const std::string root = FixtureRoot("v1");
  CgroupLayout l =
      CgroupLayoutForDir(root, "/sys/fs/cgroup/memory/docker/abc/");
  EXPECT_EQ(l.memory.version, CgroupVersion::kV1);
  EXPECT_EQ(l.memory.path, "/sys/fs/cgroup/memory/docker/abc");
  EXPECT_EQ(l.memory.mount_full_path, root + "/sys/fs/cgroup/memory");
  EXPECT_FALSE(l.cpu.ok());  // Another hierarchy.
  EXPECT_FALSE(l.unified.ok());
}

TEST(CgroupLayoutForDir, ExplicitV2Dir) {
  const std::string root = FixtureRoot("v2");
  CgroupLayout l = CgroupLayoutForDir(root, "/sys/fs/cgroup/system.slice");
  EXPECT_EQ(l.memory.version, CgroupVersion::kV2);
  EXPECT_TRUE(l.pids.ok());
  EXPECT_EQ(l.unified.path, "/sys/fs/cgroup/system.slice");
  EXPECT_EQ(l.memory.AncestorFullPaths().size(), 2u);
}

TEST(CgroupLayoutForDir, MissingDir) {
  CgroupLayout l = CgroupLayoutForDir(FixtureRoot("v2"), "/sys/fs/cgroup/nope");
  EXPECT_FALSE(l.memory.ok());
  EXPECT_NE(l.problems.find("no such cgroup directory"), std::string::npos);
}

}  // namespace
}  // namespace internal
}  // namespace pressure
}  // namespace vigil
