#!/usr/bin/python3
"""Offline check of the Grafana dashboard: the file is JSON with panels, and
every panel query and variable query parses as PromQL (each becomes a
recording rule in a scratch rules file for `promtool check rules`; Grafana's
$variables replaced by sample values). The fleet test also runs each query
against a live Prometheus.

Usage: dashboard_check.py DASHBOARD_JSON SCRATCH_DIR
"""
import json
import os
import re
import subprocess
import sys

SUBST = {"$job": "vigil", "$instance": ".*", "$__rate_interval": "1m",
         "$__range": "5m", "$__interval": "15s"}


def queries(board):
    out = []
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            out.append(target["expr"])
    for var in board.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            q = var["query"]
            q = q["query"] if isinstance(q, dict) else q
            m = re.fullmatch(r"label_values\((.+),\s*\w+\)", q)
            out.append(m.group(1) if m else q)
    return out


def main():
    with open(sys.argv[1]) as f:
        board = json.load(f)
    exprs = queries(board)
    assert exprs, "no queries in the dashboard"
    path = os.path.join(sys.argv[2], "dashboard_queries.yml")
    with open(path, "w") as f:
        f.write("groups:\n  - name: dashboard\n    rules:\n")
        for i, e in enumerate(exprs):
            for k, v in SUBST.items():
                e = e.replace(k, v)
            assert "$" not in e.replace("$1", ""), f"unknown variable in {e}"
            f.write(f"      - record: dashboard:query{i}\n")
            f.write(f"        expr: {json.dumps(e)}\n")
    subprocess.run(["promtool", "check", "rules", path], check=True)
    print(f"dashboard: {len(board['panels'])} panels, {len(exprs)} queries parse")


if __name__ == "__main__":
    main()
