"""Write tickets.csv: a small support-ticket corpus written for this example (3 queues).

Kept as a script so the corpus is reviewable and regenerable; the CSV is committed too.
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

SUBJECTS = {
    "billing": [
        "I was charged twice",
        "my invoice is wrong",
        "the card payment failed",
        "I need a refund",
        "my bill went up",
        "cancel the duplicate charge",
        "update my billing address",
        "VAT is missing on the receipt",
    ],
    "technical": [
        "the app crashes on start",
        "upload fails with error 500",
        "the login page does not load",
        "sync stopped on my phone",
        "export button is broken",
        "pages are very slow",
        "notifications never arrive",
        "the API returns a timeout",
    ],
    "account": [
        "reset my password",
        "change the email on my account",
        "delete my account",
        "add a user to my team",
        "rename my workspace",
        "turn on two factor login",
        "transfer ownership to a colleague",
        "I am locked out",
    ],
}
TAILS = ["", " please help", " since yesterday", " for our team", " this is urgent", " thanks"]


def main() -> None:
    path = Path(__file__).with_name("tickets.csv")
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "queue"])
        for queue, subjects in SUBJECTS.items():
            for subject, tail in itertools.product(subjects, TAILS):
                writer.writerow([subject + tail, queue])
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
