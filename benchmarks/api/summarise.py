"""Print a locust stats CSV as a Markdown table: requests, failures, p50/p95/p99 (ms), req/s per page."""

from __future__ import annotations

import csv
import sys


def main(path: str) -> None:
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    print("| page | requests | errors | p50 | p95 | p99 | req/s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in sorted(rows, key=lambda r: (r["Name"] == "Aggregated", r["Name"])):
        name = "**all**" if row["Name"] == "Aggregated" else f"{row['Type']} {row['Name']}".strip()
        print(
            f"| {name} | {row['Request Count']} | {row['Failure Count']} | {row['50%']} | {row['95%']} "
            f"| {row['99%']} | {float(row['Requests/s']):.1f} |"
        )


if __name__ == "__main__":
    main(sys.argv[1])
