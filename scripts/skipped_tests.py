#!/usr/bin/env python3
"""Lists the skipped test cases of one `bazel test` run, for scripts/test.sh.

  skipped_tests.py LOG TESTLOGS SINCE

LOG is the run's output (with --test_summary=short, which names every test
target it ran or took from the cache), TESTLOGS the bazel-testlogs directory
and SINCE the run's start (seconds since the epoch). Bazel reports a target
whose cases were skipped as PASSED, so this reads the JUnit XML of the
targets LOG names, and no other: gtest's (a case with result="skipped" or a
<skipped> element) and pytest's (a <skipped> element). Of a target's XML
files it takes those written since SINCE (runs, shards); for a cached result
none are, and it takes the target's test.xml.

Prints one line per skipped case, "LABEL<TAB>CASE<TAB>REASON", and nothing
else on stdout; unreadable XML is reported on stderr.
"""

import glob
import os
import re
import sys
import xml.etree.ElementTree as ET

# A target line of the test summary: "//pkg:name   (cached) PASSED in 0.1s".
TARGET = re.compile(
    r"^(//\S+)\s+(?:\(cached\)\s+)?(?:PASSED|FAILED|FLAKY|TIMEOUT)\b")


def targets(log_path):
    with open(log_path, errors="replace") as f:
        found = [m.group(1) for m in map(TARGET.match, f) if m]
    return list(dict.fromkeys(found))


def xml_files(testlogs, label, since):
    package, _, name = label[2:].partition(":")
    base = os.path.join(testlogs, package, name)
    files = [os.path.join(base, "test.xml")]
    files += glob.glob(os.path.join(base, "*_of_*", "test.xml"))
    files = [f for f in files if os.path.exists(f)]
    fresh = [f for f in files if os.path.getmtime(f) >= since]
    if fresh:
        return sorted(fresh)
    top = os.path.join(base, "test.xml")
    return [top] if os.path.exists(top) else []


def reason(case):
    skipped = case.find("skipped")
    text = ""
    if skipped is not None:
        text = skipped.get("message") or (skipped.text or "")
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    # gtest's message starts with "file:line".
    if len(lines) > 1 and re.match(r"^\S+:\d+$", lines[0]):
        lines = lines[1:]
    return lines[0][:120] if lines else "(no reason given)"


def skipped_cases(path):
    for case in ET.parse(path).getroot().iter("testcase"):
        if case.get("result") == "skipped" or case.find("skipped") is not None:
            suite = case.get("classname", "")
            name = case.get("name", "")
            yield (f"{suite}.{name}" if suite else name), reason(case)


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    log_path, testlogs, since = argv[1], argv[2], float(argv[3])
    for label in targets(log_path):
        for path in xml_files(testlogs, label, since):
            try:
                cases = list(skipped_cases(path))
            except (ET.ParseError, OSError) as e:
                print(f"skipped_tests: {path}: {e}", file=sys.stderr)
                continue
            for case, why in cases:
                print(f"{label}\t{case}\t{why}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
