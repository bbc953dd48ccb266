#!/usr/bin/env python3
"""Writes the fixture trees the pressure detector tests read.

Each tree is a fake filesystem root holding the /proc and /sys files a
detector reads, as a kernel of that layout would present them. Run from this
directory after changing it; the output is committed.

Trees:
  v2            pure cgroup v2, process in /system.slice/app.service with
                memory.max 512 MiB, cpu.max 0.5 CPU, pids.max 100, PSI
  v1            cgroup v1 only (no unified hierarchy), cpu,cpuacct co-mounted,
                memory limit 256 MiB on the process's cgroup
  v1_container  v1 seen from inside a container without a cgroup namespace:
                the mounts' root is the container's cgroup, its visible
                limit_in_bytes is unlimited, the kernel's
                hierarchical_memory_limit (an invisible ancestor) is 512 MiB
  hybrid        v1 controllers + an empty unified v2 hierarchy at
                /sys/fs/cgroup/unified carrying cgroup-local PSI (as systemd's
                "hybrid" mode and this project's CI machines)
  nolimit       v2 with memory.max "max" everywhere: host MemAvailable is used
  nested        v2 /a (1 GiB) / b (256 MiB) / c (max, memory.high 384 MiB):
                the effective limit is 256 MiB, from the parent
  nopsi         v2 on a kernel without PSI: no *.pressure, no /proc/pressure
  unreadable    v2 where files exist but cannot be read (directories where
                files are expected: read() fails with EISDIR even for root)
                or hold garbage
"""
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
MiB = 1024 * 1024
GiB = 1024 * MiB


def write(root, path, content):
    full = os.path.join(HERE, root, path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(content)


def unreadable(root, path):
    """A directory where a file is expected: open() works, read() fails."""
    full = os.path.join(HERE, root, path.lstrip("/"))
    if os.path.isfile(full):
        os.remove(full)
    os.makedirs(full, exist_ok=True)
    with open(os.path.join(full, ".keep"), "w") as f:
        f.write("")


def psi(some10, full10=None, some60=None, total=123456):
    some60 = some10 if some60 is None else some60
    s = "some avg10=%.2f avg60=%.2f avg300=0.50 total=%d\n" % (some10, some60,
                                                              total)
    if full10 is not None:
        s += "full avg10=%.2f avg60=%.2f avg300=0.10 total=%d\n" % (
            full10, full10, total // 2)
    return s


def meminfo(total, available):
    return ("MemTotal:       %d kB\nMemFree:         %d kB\n"
            "MemAvailable:   %d kB\nBuffers:          102400 kB\n"
            "Cached:          2048000 kB\nSwapTotal:             0 kB\n" %
            (total // 1024, available // 2048, available // 1024))


LIMITS = """Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max processes             %s                 %s                 processes
Max open files            %s                 %s                 files
Max locked memory         8388608              8388608              bytes
"""


def common_proc(root, threads=12, fds=10, nofile=1024, nproc="63704",
                system_psi=True):
    write(root, "/proc/meminfo", meminfo(16 * GiB, 8 * GiB))
    write(root, "/proc/self/limits", LIMITS % (nproc, nproc, nofile, 4096))
    stat = ("4242 (my (odd) app) S 1 4242 4242 0 -1 4194560 1000 0 0 0 50 20 "
            "0 0 20 0 %d 0 12345 123456789 2000 18446744073709551615 1 1 0 0 "
            "0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n" % threads)
    write(root, "/proc/self/stat", stat)
    for i in range(fds):
        write(root, "/proc/self/fd/%d" % i, "")
    write(root, "/proc/loadavg", "0.52 0.41 0.30 3/412 98765\n")
    write(root, "/proc/sys/kernel/threads-max", "126000\n")
    write(root, "/proc/sys/kernel/pid_max", "4194304\n")
    if system_psi:
        write(root, "/proc/pressure/memory", psi(0.10, 0.00, total=999))
        write(root, "/proc/pressure/cpu", psi(5.00, 0.00, total=999))
        write(root, "/proc/pressure/io", psi(0.20, 0.05, total=999))


V2_MOUNTINFO = (
    "22 28 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
    "26 28 0:24 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "28 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n"
    "30 26 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - "
    "cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n")

V2_CONTROLLERS = "cpuset cpu io memory hugetlb pids rdma misc\n"


def v2_cgroup(root, path, memory_max="max", memory_high="max", current=None,
              stat_inactive=None, events=None, pressure=True, cpu=None,
              pids=None):
    base = "/sys/fs/cgroup" + path
    write(root, base + "/cgroup.controllers", V2_CONTROLLERS)
    write(root, base + "/memory.max", memory_max + "\n")
    write(root, base + "/memory.high", memory_high + "\n")
    if current is not None:
        write(root, base + "/memory.current", "%d\n" % current)
        write(root, base + "/memory.stat",
              "anon %d\nfile %d\nkernel 1048576\nshmem 0\n"
              "inactive_anon %d\nactive_anon 4096\ninactive_file %d\n"
              "active_file %d\nunevictable 0\n" %
              (current // 2, current // 2, current // 2, stat_inactive,
               current // 2 - stat_inactive))
        write(root, base + "/memory.events",
              "low 0\nhigh 0\nmax 7\noom %d\noom_kill %d\noom_group_kill 0\n" %
              (events or (0, 0)))
    if pressure:
        write(root, base + "/memory.pressure", psi(1.50, 0.25, total=5555))
        write(root, base + "/cpu.pressure", psi(12.00, 3.00, total=5555))
        write(root, base + "/io.pressure", psi(2.00, 1.00, total=5555))
    if cpu is not None:
        nr_periods, nr_throttled, throttled_usec, quota = cpu
        write(root, base + "/cpu.stat",
              "usage_usec 9000000\nuser_usec 6000000\nsystem_usec 3000000\n"
              "nr_periods %d\nnr_throttled %d\nthrottled_usec %d\n"
              "nr_bursts 0\nburst_usec 0\n" %
              (nr_periods, nr_throttled, throttled_usec))
        write(root, base + "/cpu.max", quota + "\n")
    if pids is not None:
        write(root, base + "/pids.current", "%d\n" % pids[0])
        write(root, base + "/pids.max", pids[1] + "\n")


def make_v2(root, memory_max, pressure=True, system_psi=True):
    common_proc(root, system_psi=system_psi)
    write(root, "/proc/self/cgroup", "0::/system.slice/app.service\n")
    write(root, "/proc/self/mountinfo", V2_MOUNTINFO)
    write(root, "/sys/fs/cgroup/cgroup.controllers", V2_CONTROLLERS)
    write(root, "/sys/fs/cgroup/cgroup.subtree_control", "cpu io memory pids\n")
    if pressure:
        write(root, "/sys/fs/cgroup/memory.pressure", psi(0.10, 0.00))
    v2_cgroup(root, "/system.slice", pids=(200, "max"), current=600 * MiB,
              stat_inactive=100 * MiB, pressure=pressure)
    v2_cgroup(root, "/system.slice/app.service", memory_max=memory_max,
              current=450 * MiB, stat_inactive=50 * MiB, events=(2, 1),
              pressure=pressure, cpu=(1000, 100, 5000000, "50000 100000"),
              pids=(42, "100"))


def make_v1(root, container=False):
    common_proc(root)
    cg = "/docker/abc"
    write(root, "/proc/self/cgroup",
          "12:pids:%s\n11:memory:%s\n4:cpu,cpuacct:%s\n1:name=systemd:%s\n" %
          (cg, cg, cg, cg))
    mroot = cg if container else "/"
    write(root, "/proc/self/mountinfo",
          "22 28 0:21 / /proc rw,relatime - proc proc rw\n"
          "28 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
          "30 28 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs ro,mode=755\n"
          "31 30 0:27 %s /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
          "32 30 0:28 %s /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
          "33 30 0:29 %s /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
          "34 30 0:30 %s /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n" %
          (mroot, mroot, mroot, mroot))
    unlimited = "9223372036854771712\n"
    mem = "/sys/fs/cgroup/memory"
    cpu = "/sys/fs/cgroup/cpu,cpuacct"
    pids = "/sys/fs/cgroup/pids"
    if container:
        own, hier = unlimited, 512 * MiB
        dirs = {"mem": mem, "cpu": cpu, "pids": pids}
    else:
        own, hier = "%d\n" % (256 * MiB), 256 * MiB
        write(root, mem + "/memory.limit_in_bytes", unlimited)
        write(root, mem + "/memory.usage_in_bytes", "%d\n" % (3 * GiB))
        write(root, mem + "/docker/memory.limit_in_bytes", unlimited)
        write(root, mem + "/docker/memory.usage_in_bytes", "%d\n" % GiB)
        write(root, pids + "/docker/pids.max", "max\n")
        write(root, pids + "/docker/pids.current", "300\n")
        dirs = {"mem": mem + cg, "cpu": cpu + cg, "pids": pids + cg}
    write(root, dirs["mem"] + "/memory.limit_in_bytes", own)
    write(root, dirs["mem"] + "/memory.usage_in_bytes", "%d\n" % (200 * MiB))
    write(root, dirs["mem"] + "/memory.stat",
          "cache 31457280\nrss 178257920\nrss_huge 0\nshmem 0\n"
          "mapped_file 1048576\ninactive_anon 0\nactive_anon 178257920\n"
          "inactive_file 5242880\nactive_file 26214400\n"
          "hierarchical_memory_limit %d\n"
          "hierarchical_memsw_limit 9223372036854771712\n"
          "total_cache 31457280\ntotal_rss 178257920\n"
          "total_inactive_file 10485760\ntotal_active_file 20971520\n" % hier)
    write(root, dirs["mem"] + "/memory.oom_control",
          "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n")
    # Write-only knobs of the v1 notifications (events.h): empty here; a
    # test writing to a copy reads back what was registered.
    write(root, dirs["mem"] + "/cgroup.event_control", "")
    write(root, dirs["mem"] + "/memory.pressure_level", "")
    write(root, dirs["mem"] + "/tasks", "4242\n")
    write(root, dirs["cpu"] + "/cpu.stat",
          "nr_periods 500\nnr_throttled 50\nthrottled_time 2500000000\n")
    write(root, dirs["cpu"] + "/cpu.cfs_quota_us", "150000\n")
    write(root, dirs["cpu"] + "/cpu.cfs_period_us", "100000\n")
    write(root, dirs["pids"] + "/pids.current", "30\n")
    write(root, dirs["pids"] + "/pids.max", "1000\n")


def make_hybrid(root):
    common_proc(root)
    write(root, "/proc/self/cgroup",
          "9:name=systemd:/user.slice/app\n8:pids:/user.slice/app\n"
          "4:memory:/user.slice/app\n1:cpu:/user.slice/app\n0::/user.slice/app\n")
    write(root, "/proc/self/mountinfo",
          "22 28 0:21 / /proc rw - proc proc rw\n"
          "28 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
          "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
          "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
          "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
          "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
          "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n")
    u = "/sys/fs/cgroup/unified"
    write(root, u + "/cgroup.controllers", "\n")
    write(root, u + "/memory.pressure", psi(0.10, 0.00))
    write(root, u + "/user.slice/app/cgroup.controllers", "\n")
    write(root, u + "/user.slice/app/memory.pressure", psi(45.00, 20.00, 30.0))
    write(root, u + "/user.slice/app/cpu.pressure", psi(7.00, 1.00))
    write(root, u + "/user.slice/app/io.pressure", psi(3.00, 1.50))
    mem = "/sys/fs/cgroup/memory"
    write(root, mem + "/memory.limit_in_bytes", "9223372036854771712\n")
    write(root, mem + "/user.slice/memory.limit_in_bytes", "9223372036854771712\n")
    app = mem + "/user.slice/app"
    write(root, app + "/memory.limit_in_bytes", "%d\n" % (128 * MiB))
    write(root, app + "/memory.usage_in_bytes", "%d\n" % (120 * MiB))
    write(root, app + "/memory.stat",
          "cache 8388608\nrss 117440512\ninactive_file 1048576\n"
          "hierarchical_memory_limit %d\ntotal_inactive_file 2097152\n" %
          (128 * MiB))
    write(root, app + "/memory.oom_control",
          "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
    write(root, app + "/cgroup.event_control", "")
    write(root, app + "/memory.pressure_level", "")
    write(root, "/sys/fs/cgroup/cpu/user.slice/app/cpu.stat",
          "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n")
    write(root, "/sys/fs/cgroup/cpu/user.slice/app/cpu.cfs_quota_us", "-1\n")
    write(root, "/sys/fs/cgroup/cpu/user.slice/app/cpu.cfs_period_us",
          "100000\n")
    write(root, "/sys/fs/cgroup/pids/user.slice/app/pids.current", "5\n")
    write(root, "/sys/fs/cgroup/pids/user.slice/app/pids.max", "max\n")


def make_nested(root):
    common_proc(root, threads=3)
    write(root, "/proc/self/cgroup", "0::/a/b/c\n")
    write(root, "/proc/self/mountinfo", V2_MOUNTINFO)
    write(root, "/sys/fs/cgroup/cgroup.controllers", V2_CONTROLLERS)
    v2_cgroup(root, "/a", memory_max="%d" % GiB, current=300 * MiB,
              stat_inactive=0, pids=(90, "100"))
    v2_cgroup(root, "/a/b", memory_max="%d" % (256 * MiB), current=200 * MiB,
              stat_inactive=0, pids=(60, "max"))
    v2_cgroup(root, "/a/b/c", memory_max="max",
              memory_high="%d" % (384 * MiB), current=160 * MiB,
              stat_inactive=32 * MiB, pids=(10, "max"))


def make_unreadable(root):
    make_v2(root, "%d" % (512 * MiB))
    app = "/sys/fs/cgroup/system.slice/app.service"
    unreadable(root, app + "/memory.stat")
    unreadable(root, app + "/memory.events")
    unreadable(root, app + "/memory.pressure")
    unreadable(root, app + "/io.pressure")
    unreadable(root, app + "/cpu.pressure")
    write(root, app + "/cpu.stat", "this is not a cpu.stat file\n")
    unreadable(root, "/proc/pressure/memory")
    unreadable(root, "/proc/pressure/io")
    unreadable(root, "/proc/pressure/cpu")
    unreadable(root, "/proc/self/limits")
    write(root, "/proc/self/stat", "garbage\n")
    write(root, "/proc/loadavg", "garbage\n")


def main():
    for name in ("v2", "v1", "v1_container", "hybrid", "nolimit", "nested",
                 "nopsi", "unreadable"):
        shutil.rmtree(os.path.join(HERE, name), ignore_errors=True)
    make_v2("v2", "%d" % (512 * MiB))
    make_v1("v1")
    make_v1("v1_container", container=True)
    make_hybrid("hybrid")
    make_v2("nolimit", "max")
    make_nested("nested")
    make_v2("nopsi", "%d" % (512 * MiB), pressure=False, system_psi=False)
    make_unreadable("unreadable")


if __name__ == "__main__":
    main()
