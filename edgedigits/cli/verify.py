"""``edgedigits verify``: the pre-ship check of exported folders."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from edgedigits.cli._args import (
    _command,
)


def cmd_verify(args: argparse.Namespace) -> int:
    from edgedigits.verify import verify

    if args.json:
        from edgedigits.outputs import writable_file

        writable_file(args.json, "--json")
    report = verify(args.targets, out=args.out, manifest_sha256=args.manifest_sha256 or ())
    if args.json:
        from edgedigits import atomic

        atomic.write_json(args.json, report.to_json())
    for problem in report.problems:
        print(f"edgedigits verify: {problem.line()}", file=sys.stderr)
    verdict = "passed" if report.passed else f"FAILED: {len(report.problems)} problem(s)"
    for folder, digest in report.manifests.items():
        print(f"manifest sha256 {digest}  {folder}/manifest.json")  # what an app's CI pins
    for note in report.notes:
        print(f"note: {note}")
    print(
        f"verify: {verdict}; {len(report.verified)} artifact(s) verified in "
        f"{len(report.folders)} model folder(s)"
    )
    return 0 if report.passed else 1


def add_parser(sub: Any) -> None:
    check = _command(
        sub,
        cmd_verify,
        "verify",
        help="check exported artifacts against their manifests before shipping",
        description="What an app's CI runs before shipping: every manifest record is checked "
        "against its file (size, SHA-256, tensor specs and quantization as the "
        "runtime reads them), the golden vectors are replayed one image per call in "
        "each artifact's runtime, and C arrays are checked byte for byte against "
        "their .tflite. Exit 1 with one line per problem.",
    )
    check.add_argument(
        "targets",
        nargs="*",
        metavar="NAME|DIR",
        help="model names (under --out), model folders, or folders of model "
        "folders (default: every model folder under --out)",
    )
    check.add_argument(
        "--out",
        default="exports",
        metavar="DIR",
        help="where model names are looked up (default exports/)",
    )
    check.add_argument("--json", metavar="PATH", help="also write the result as JSON here")
    check.add_argument(
        "--manifest-sha256",
        action="append",
        metavar="HASH",
        help="pin the manifest: each folder's manifest.json must have this "
        "SHA-256 (repeat for several folders). Without it, verify proves "
        "the folder agrees with its manifest, not that the manifest is the "
        "one you shipped; verify prints each manifest's hash to pin",
    )
