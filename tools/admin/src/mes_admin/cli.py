"""``mes-admin``: operator commands run against the gateway's admin API.

Exit codes: 0 everything done, 1 some lines were not imported (or an address did not
resolve), 2 usage, input file, connection or authentication error.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sys
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

import httpx

from .gateway import DEFAULT_GATEWAY_URL, GatewayClient, TokenUnavailable, fetch_dev_token
from .importer import AuthenticationFailed, Importer, RetryPolicy, Unreachable
from .pharmacy_cli import COMMANDS as PHARMACY_COMMANDS
from .pharmacy_cli import add_commands as add_pharmacy_commands
from .pharmacy_cli import run_command as run_pharmacy_command
from .reader import COLUMNS, InputFileError, InputFormat, ReadLine, read_records
from .report import ImportReport

__all__ = ["main"]

EXIT_OK, EXIT_INCOMPLETE, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Printed as ``mes-admin: error: ...`` and exit code 2."""


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--gateway",
        default=os.environ.get("MES_GATEWAY_URL", DEFAULT_GATEWAY_URL),
        metavar="URL",
        help="gateway base URL (env MES_GATEWAY_URL; default %(default)s)",
    )
    common.add_argument(
        "--token",
        default=os.environ.get("MES_ADMIN_TOKEN"),
        metavar="TOKEN",
        help="bearer token with the ops role (env MES_ADMIN_TOKEN); without one, a "
        "development gateway is asked for one (POST /v1/dev/tokens)",
    )
    common.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="timeout of one HTTP request (default %(default)s)",
    )

    parser = argparse.ArgumentParser(
        prog="mes-admin",
        description="Operator commands for MES Messagerie.",
        epilog="Exit codes: 0 success, 1 some lines not imported or address not deliverable, "
        "2 usage, file, connection or authentication error.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    imp = commands.add_parser(
        "import-patients",
        parents=[common],
        help="create or update patient profiles in bulk",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Create or update patient profiles from a CSV or JSON Lines file, through\n"
        "PUT /v1/admin/patients/{ins}. Each line is checked first (INS key, required\n"
        "fields, state); a bad line is reported with its line number and does not\n"
        "stop the import. Importing the same file again is harmless.",
        epilog=f"CSV columns (header row, UTF-8): {','.join(COLUMNS)}\n"
        "  required: ins, state (created|activated|opposed|closed), birth_name, "
        "first_names, email\n"
        "  app_installed: true/false/1/0/yes/no/oui/non, empty = not given\n"
        "JSON Lines: one object per line with the same keys.",
    )
    imp.add_argument("file", metavar="FILE", help="the file to import; - reads standard input")
    imp.add_argument(
        "--format",
        choices=[f.value for f in InputFormat],
        help="file format (default: from the extension .csv, .jsonl or .ndjson)",
    )
    imp.add_argument(
        "--concurrency",
        type=int,
        default=8,
        metavar="N",
        help="requests in flight at once (default %(default)s)",
    )
    imp.add_argument(
        "--report",
        type=Path,
        metavar="REPORT.csv",
        help="write the lines not imported (line,ins,outcome,reason,detail) here",
    )
    imp.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    imp.add_argument(
        "--retries",
        type=int,
        default=5,
        metavar="N",
        help="tries per line on connection errors, 429, 502, 503, 504 (default %(default)s)",
    )

    res = commands.add_parser(
        "resolve",
        parents=[common],
        help="tell whether a patient address is deliverable",
        description="Print the resolution of a patient address (GET "
        "/v1/admin/addresses/{address}/resolution): deliverable, not_found, "
        "closed or invalid, and why.",
    )
    res.add_argument("address", metavar="ADDRESS", help="e.g. 279035121518989@patient.mssante.fr")
    add_pharmacy_commands(commands, common)
    return parser


def _input_format(file: str, given: str | None) -> InputFormat:
    if given:
        return InputFormat(given)
    suffix = Path(file).suffix.lower()
    if suffix == ".csv":
        return InputFormat.CSV
    if suffix in (".jsonl", ".ndjson"):
        return InputFormat.JSONL
    raise UsageError(f"cannot tell the format of {file!r}: use --format csv or --format jsonl")


def _count_lines(path: Path, input_format: InputFormat) -> int:
    """Non-blank physical lines, minus the CSV header: the progress bar's total."""
    with path.open("rb") as f:
        count = sum(1 for line in f if line.strip())
    return max(count - 1, 0) if input_format is InputFormat.CSV else count


async def _client(
    args: argparse.Namespace, concurrency: int, transport: httpx.AsyncBaseTransport | None
) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    http = httpx.AsyncClient(
        base_url=args.gateway, timeout=args.timeout, limits=limits, transport=transport
    )
    try:
        token = args.token or await fetch_dev_token(http)
    except (TokenUnavailable, Unreachable) as error:
        await http.aclose()
        raise UsageError(
            f"{error}"
            if isinstance(error, TokenUnavailable)
            else f"gateway unreachable at {args.gateway}: {error}"
        ) from error
    http.headers["Authorization"] = f"Bearer {token}"
    return http


def _import(args: argparse.Namespace, transport: httpx.AsyncBaseTransport | None) -> int:
    """Open the files here, outside the event loop, then import asynchronously."""
    if args.concurrency < 1 or args.retries < 1:
        raise UsageError("--concurrency and --retries must be at least 1")
    input_format = _input_format(args.file, args.format)
    with ExitStack() as files:
        total: int | None = None
        stream: TextIO
        if args.file == "-":
            stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
        else:
            path = Path(args.file)
            try:
                stream = files.enter_context(path.open(encoding="utf-8-sig", newline=""))
                total = _count_lines(path, input_format)
            except OSError as error:
                raise UsageError(f"cannot read {args.file}: {error.strerror}") from error
        try:
            lines = read_records(stream, input_format)
        except InputFileError as error:
            raise UsageError(f"{args.file}: {error}") from error
        except UnicodeDecodeError as error:
            raise UsageError(f"{args.file} is not UTF-8: {error}") from error
        try:
            report_file = (
                files.enter_context(args.report.open("w", encoding="utf-8", newline=""))
                if args.report
                else None
            )
        except OSError as error:
            raise UsageError(f"cannot write {args.report}: {error.strerror}") from error
        report = ImportReport(
            sys.stderr,
            total=total,
            report_file=report_file,
            progress=not args.no_progress and sys.stderr.isatty(),
        )
        return asyncio.run(_run_import(args, lines, report, transport))


async def _run_import(
    args: argparse.Namespace,
    lines: Iterable[ReadLine],
    report: ImportReport,
    transport: httpx.AsyncBaseTransport | None,
) -> int:
    try:
        http = await _client(args, args.concurrency, transport)
    except UsageError:
        report.close()
        raise
    importer = Importer(
        GatewayClient(http),
        report,
        concurrency=args.concurrency,
        retry=RetryPolicy(attempts=args.retries),
    )
    failure: str | None = None
    try:
        await importer.run(lines)
    except AuthenticationFailed as error:
        failure = f"import stopped, the token was refused: {error}"
    except UnicodeDecodeError as error:
        failure = f"import stopped, {args.file} is not UTF-8: {error}"
    finally:
        report.close()
        await http.aclose()
    print(report.summary(), file=sys.stderr)
    if failure:
        print(f"mes-admin: error: {failure}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK if report.all_imported else EXIT_INCOMPLETE


async def _resolve(args: argparse.Namespace, transport: httpx.AsyncBaseTransport | None) -> int:
    http = await _client(args, 1, transport)
    try:
        answer, body = await GatewayClient(http).resolve(args.address)
    except Unreachable as error:
        raise UsageError(f"gateway unreachable at {args.gateway}: {error}") from error
    finally:
        await http.aclose()
    if answer.status in (401, 403):
        raise UsageError(f"the token was refused: {AuthenticationFailed(answer)}")
    if answer.status != 200:
        problem = answer.problem or {}
        print(
            f"mes-admin: {problem.get('code', answer.status)}: "
            f"{problem.get('detail') or problem.get('title') or ''}",
            file=sys.stderr,
        )
        return EXIT_INCOMPLETE
    print(json.dumps(body, indent=2, ensure_ascii=False))
    deliverable = isinstance(body, dict) and body.get("status") == "deliverable"
    return EXIT_OK if deliverable else EXIT_INCOMPLETE


def _pharmacies(args: argparse.Namespace, transport: httpx.AsyncBaseTransport | None) -> int:
    """The pharmacy commands; the HTTP client's token is fetched in its own event loop, the
    client itself is opened in the command's."""
    if args.command == "generate-finess":
        return run_pharmacy_command(args, None)

    async def token() -> str:
        http = await _client(args, 1, transport)
        try:
            return str(http.headers["Authorization"])
        finally:
            await http.aclose()

    authorization = asyncio.run(token())
    http = httpx.AsyncClient(
        base_url=args.gateway,
        timeout=args.timeout,
        transport=transport,
        headers={"Authorization": authorization},
    )
    return run_pharmacy_command(args, http)


def main(
    argv: Sequence[str] | None = None, *, transport: httpx.AsyncBaseTransport | None = None
) -> int:
    """The ``mes-admin`` script. ``transport`` lets tests stand in for the gateway."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "import-patients":
            return _import(args, transport)
        if args.command in PHARMACY_COMMANDS:
            return _pharmacies(args, transport)
        return asyncio.run(_resolve(args, transport))
    except UsageError as error:
        print(f"mes-admin: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("mes-admin: interrupted", file=sys.stderr)
        return 130
