"""python -m checks.share — the share of checklist boxes automated, and the boxes a machine could check
that are still manual."""

from __future__ import annotations

from checks import registry
from checks.catalogue import load, share


def main() -> None:
    items = load(known_checks=set(registry.load()))
    print(share(items).describe())
    for item in items:
        if item.kind == "manual" and item.machine:
            print(f"  not yet automated: {item.id} {item.text} ({item.why})")


if __name__ == "__main__":
    main()
