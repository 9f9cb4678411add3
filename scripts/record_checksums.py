"""Record the sha256 of weight files whose publisher gives none, into the shipped manifest.

For maintainers, with the network allowed and srarena and its plugins installed:

    python scripts/record_checksums.py NAME [NAME...]   # weight sets or components
    python scripts/record_checksums.py --all            # every fetchable declared set
    python scripts/record_checksums.py --replace NAME   # accept an upstream that changed

Each file without a published sha256 is downloaded afresh from its declared source (into a
scratch folder, never your cache), checked by its set's validator, and its sha256, size,
source and the date are written to src/srarena/weights/checksums.json, which every user's
fetch, add and use then checks against. A file that already has a record is checked
against it: a different sha256 stops with the error unless --replace. Review the diff of
checksums.json before committing it.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="weight sets or components to record")
    parser.add_argument("--all", action="store_true", help="every fetchable declared set")
    parser.add_argument("--replace", action="store_true",
                        help="replace a record whose file changed upstream")
    args = parser.parse_args(argv)
    if args.all == bool(args.names):
        parser.error("give weight set names or --all (not both)")

    from srarena import weights
    from srarena.cli.transfers import download_progress, reporter
    from srarena.weights import shipped

    if args.all:
        sets = [d.weights for d in weights.declared().values()
                if weights.how_to_get(d.weights) == "fetch"]
    else:
        sets = [weights.find(name) for name in args.names]
    failed = 0
    with download_progress() as progress:
        for ws in sets:
            try:
                for line in shipped.record(ws, replace=args.replace,
                                           progress=reporter(progress, ws.name)):
                    progress.console.print(line, highlight=False, markup=False)
            except weights.WeightsError as exc:
                failed += 1
                print(f"{ws.name}: {exc}", file=sys.stderr)
    print(f"manifest: {shipped.MANIFEST}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
