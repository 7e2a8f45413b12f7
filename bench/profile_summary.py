"""Summarises a py-spy collapsed-stack file (`--format raw`): where the samples are.

python -m bench.profile_summary bench/results/profile-worker.txt [--top 30] [--filter SUBSTR]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path


def load(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("path", type=Path)
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--filter", default="", help="only stacks containing this text")
    a = p.parse_args()
    stacks = [(s, n) for s, n in load(a.path) if a.filter in ";".join(s)]
    total = sum(n for _, n in stacks) or 1
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, n in stacks:
        own[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
    print(f"{total} samples")
    print("\nself:")
    for f, n in own.most_common(a.top):
        print(f"  {100 * n / total:5.1f}%  {f}")
    print("\ninclusive:")
    for f, n in inclusive.most_common(a.top):
        print(f"  {100 * n / total:5.1f}%  {f}")


if __name__ == "__main__":
    main()
