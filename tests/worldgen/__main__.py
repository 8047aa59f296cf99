"""`python -m tests.worldgen --people N --seed S --out DIR`: write a world and its truth."""

from __future__ import annotations

import argparse
from pathlib import Path

from tests.worldgen.generate import generate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.worldgen",
        description="Write six source files about N people, truth.csv and a README into DIR.",
    )
    parser.add_argument("--people", type=int, required=True, help="how many people")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--out", type=Path, required=True, help="directory to write into")
    args = parser.parse_args(argv)
    if args.people < 1:
        parser.error("--people must be at least 1")
    world = generate(args.out, args.people, args.seed)
    print(f"{world.people:,} people in {world.households:,} households, seed {world.seed}:")
    for source, path in world.files.items():
        print(f"  {path}  {world.records[source]:,} rows")
    print(f"  {world.truth}  {world.entities}  {world.readme}")
    print(f"in {world.seconds:.1f} s")


if __name__ == "__main__":
    main()
