"""CPU of one triage evaluation with the shipped rules (routing's ``open_case`` runs one per
new request), for a short and a long customer text.

    .venv/bin/python bench/triage_bench.py [--n 2000]

Prints microseconds of CPU per evaluation (this process, ``time.process_time``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hotro.services.routing.adapters.config_files import load_triage_rules
from hotro.services.routing.config import TRIAGE_RULES_PATH

SHORT = "Máy lạnh không chạy"
LONG = ("Tôi mua máy giặt tại cửa hàng ngày 20/11, sau 3 ngày sử dụng máy kêu rất to và rung "
        "mạnh khi vắt. Nhân viên hẹn đến kiểm tra nhưng không đến. Đề nghị công ty xử lý sớm. "
        ) * 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="evaluations per case")
    n = parser.parse_args().n
    rules = load_triage_rules(TRIAGE_RULES_PATH)
    keywords = sum(len(rule.keywords) for rule in rules.rules)
    print(f"{len(rules.rules)} rules, {keywords} keywords")
    for name, text in (("short", SHORT), ("long", LONG)):
        rules.evaluate("complaint", "dien-lanh", None, text)  # warm the caches
        started = time.process_time()
        for _ in range(n):
            rules.evaluate("complaint", "dien-lanh", None, text)
        spent = (time.process_time() - started) / n
        print(f"{name} text ({len(text)} characters): {spent * 1e6:.0f} µs CPU per evaluation")


if __name__ == "__main__":
    main()
