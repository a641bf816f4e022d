"""The pharmacy commands of ``mes-admin``: ``import-finess``, ``import-dispensations`` and
``generate-finess``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Protocol

import httpx

from .finess import ExtractError
from .finess_gen import write_extract
from .pharmacy_import import DispensationImport, FinessImport, ImportFailed

__all__ = ["COMMANDS", "add_commands", "run_command"]

COMMANDS = ("import-finess", "import-dispensations", "generate-finess")


class Commands(Protocol):
    """What ``ArgumentParser.add_subparsers()`` returns, as far as these commands use it."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...


def add_commands(commands: Commands, common: argparse.ArgumentParser) -> None:
    finess = commands.add_parser(
        "import-finess",
        parents=[common],
        help="import the pharmacies of the FINESS extract",
        description="Read the official FINESS extract of establishments "
        "(etalab-cs1100507-stock-*.csv) as a stream, keep the pharmacies (category 620), "
        "convert their Lambert 93 positions to WGS84, and create or update them through "
        "POST /v1/admin/pharmacies/batches. A FINESS number with a wrong check digit, or a "
        "line that cannot be used, is reported with its line number. Importing again is "
        "harmless; a pharmacy absent from the extract is marked closed, never deleted.",
    )
    finess.add_argument("file", type=Path, metavar="FILE")
    finess.add_argument("--no-progress", action="store_true", help="no progress bar")
    finess.add_argument(
        "--keep-absent",
        action="store_true",
        help="do not close the pharmacies absent from this file (a partial extract)",
    )
    disp = commands.add_parser(
        "import-dispensations",
        parents=[common],
        help="import patients' dispensing history (CSV ins,finess,date)",
        description="Replace each patient's dispensing history by the lines of the CSV file "
        "(header ins,finess,date; date as YYYY-MM-DD) that name them, through "
        "PUT /v1/admin/patients/{ins}/dispensations.",
    )
    disp.add_argument("file", type=Path, metavar="FILE")
    gen = commands.add_parser(
        "generate-finess",
        parents=[common],
        help="write a national-size FINESS extract (benchmarks)",
        description="Write a FINESS extract in the official format, deterministically: "
        "pharmacies around 20 French cities, optionally padded with other establishments.",
    )
    gen.add_argument("file", type=Path, metavar="FILE")
    gen.add_argument("--pharmacies", type=int, default=22_000, metavar="N")
    gen.add_argument(
        "--other-lines", type=int, default=0, metavar="N", help="lines of other categories"
    )
    gen.add_argument("--seed", type=int, default=2154)


def run_command(args: argparse.Namespace, http: httpx.AsyncClient | None) -> int:
    """0 all imported, 1 some lines rejected, 2 the file or the gateway failed."""
    if args.command == "generate-finess":
        lines = write_extract(args.file, args.pharmacies, args.other_lines, args.seed)
        print(f"{lines} lines written to {args.file}", file=sys.stderr)
        return 0
    assert http is not None
    if not args.file.is_file():
        print(f"mes-admin: error: cannot read {args.file}", file=sys.stderr)
        return 2
    try:
        if args.command == "import-finess":
            done = FinessImport(
                http,
                progress=not args.no_progress and sys.stderr.isatty(),
                close_absent=not args.keep_absent,
            ).run(args.file)
        else:
            done = DispensationImport(http).run(args.file)
    except (ImportFailed, ExtractError) as error:
        print(f"mes-admin: error: {error}", file=sys.stderr)
        return 2
    return 0 if done else 1
