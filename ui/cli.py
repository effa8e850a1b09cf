"""The `citeqa` command: ingest | delete | documents | ask | ui | eval, a thin layer over the
ingest, rag and eval APIs (`ingest` and `delete` open the store and call the pipeline; they
build no question-answering engine).

Settings come from the environment (CITEQA_*) once, here, with flags overriding them. Every
failure is one line on stderr and exit code 1 (a CiteqaError, a setting that does not validate);
argparse's usage errors keep its exit code 2. Nothing prints a traceback, and output a terminal
cannot encode (PYTHONIOENCODING=ascii) is shown with replacement characters, not a crash.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError
from pydantic_settings import SettingsError

from rag import Answer, CiteqaError, QAEngine, Settings, load_settings
from rag.engine import MAX_TOP_K

EXAMPLES = {
    "ingest": "example: citeqa ingest                 # the bundled Strategy\n"
    "         citeqa ingest notes.md report.html --rebuild",
    "delete": "example: citeqa delete notes            # ids: see `citeqa documents`",
    "documents": "example: citeqa documents --json",
    "ask": 'example: citeqa ask "What share of GDP did the information industry reach in 2005?"\n'
    '         citeqa ask --json --k 8 "What are the strategic objectives for 2020?"',
    "ui": "example: citeqa ui --port 7860            # then open the URL it prints",
    "eval": "example: citeqa eval --retrieval hybrid,dense,keyword --compare eval/runs/last/results.json",
}


def passage_count(text: str) -> int:
    """--k: a whole number of passages the engine accepts (else a usage error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= MAX_TOP_K:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_TOP_K}, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="citeqa",
        description="Ask questions of a policy document; every answer cites its passages.",
        epilog="Settings come from CITEQA_* environment variables (see README).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = commands.add_parser(
        "ingest",
        help="index documents (default: the bundled Strategy)",
        epilog=EXAMPLES["ingest"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ingest.add_argument("paths", nargs="*", type=Path, help=".txt, .md or .html files")
    ingest.add_argument(
        "--rebuild",
        action="store_true",
        help="drop the index and local caches and build them anew from PATHs "
        "(a damaged embedded database is moved aside, not deleted)",
    )

    delete = commands.add_parser(
        "delete",
        help="remove one document from the index",
        epilog=EXAMPLES["delete"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    delete.add_argument("doc_id", help="the document's id (see `citeqa documents`)")

    documents = commands.add_parser(
        "documents",
        help="list the indexed documents",
        epilog=EXAMPLES["documents"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    documents.add_argument("--json", action="store_true", help="print the records as JSON")

    ask = commands.add_parser(
        "ask",
        help="answer one question with cited passages",
        epilog=EXAMPLES["ask"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ask.add_argument("question", help="the question, in quotes")
    ask.add_argument(
        "--k", type=passage_count, default=None, help=f"passages to retrieve, 1-{MAX_TOP_K} (default 5)"
    )
    ask.add_argument(
        "--mode",
        choices=["auto", "extractive", "generative"],
        default=None,
        help="who answers: auto (LLM if configured), extractive (offline) or generative",
    )
    ask.add_argument(
        "--retrieval", choices=["hybrid", "dense", "keyword"], default=None, help="retrieval mode"
    )
    ask.add_argument("--json", action="store_true", help="print the whole result as JSON")

    ui = commands.add_parser(
        "ui",
        help="start the chat page (127.0.0.1 by default)",
        epilog=EXAMPLES["ui"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ui.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    ui.add_argument("--port", type=int, default=None, help="port (default 7860)")

    from eval.command import add_eval_arguments

    evaluate = commands.add_parser(
        "eval",
        help="score answers against a QA set and write a report",
        epilog=EXAMPLES["eval"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_eval_arguments(evaluate)
    return parser


def print_answer(answer: Answer) -> None:
    print(answer.answer)
    for notice in answer.notices:
        print(f"note: {notice}")
    passages = answer.citations or answer.retrieved[:3]
    if passages:
        print()
        print("Sources:" if answer.citations else "Closest passages (none cited):")
    for number, passage in enumerate(passages, 1):
        label = f"[{number}]" if answer.citations else " -"
        excerpt = " ".join(passage.text.split())
        excerpt = excerpt if len(excerpt) <= 240 else excerpt[:237] + "…"
        print(f"{label} {passage.section}  (chars {passage.start}-{passage.end})")
        print(f"    {excerpt}")


def run_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.embed import MiniLMEmbedder, set_offline_defaults
    from ingest.pipeline import ProgressLine, ingest_paths

    set_offline_defaults()
    paths = list(args.paths) or list(settings.corpus)
    progress = ProgressLine()
    try:
        summary = ingest_paths(
            paths, settings, MiniLMEmbedder(), rebuild=args.rebuild, progress=progress
        )
    finally:
        progress.close()
    where = settings.chroma_url or str(settings.data_dir)
    if summary.rebuild is not None:
        report = summary.rebuild
        moved = f"; moved the damaged database to {report.moved_damaged_to}" if report.moved_damaged_to else ""
        print(
            f"rebuild: dropped {len(report.dropped_collections)} collection(s) holding "
            f"{report.dropped_documents} document(s), removed {len(report.removed_caches)} "
            f"local cache folder(s){moved}"
        )
    skipped = f", {len(summary.skipped_documents)} unchanged (skipped)" if summary.skipped_documents else ""
    removed = f", {summary.removed_records} stale records removed" if summary.removed_records else ""
    print(
        f"indexed {summary.documents} document(s){skipped}: {summary.chunks} chunks in "
        f"{summary.sections} sections, {summary.embedded_chunks} embedded, "
        f"{summary.sentences} sentences{removed}, {summary.seconds:.1f} s → {where}"
    )
    return 0


def run_delete(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.pipeline import delete_document

    record = delete_document(settings, args.doc_id)
    print(f"deleted {record.doc_id} ({record.source}, {record.chunks} chunks)")
    return 0


def run_documents(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import asdict

    from ingest.pipeline import list_documents

    records = list_documents(settings)
    if args.json:
        print(json.dumps([asdict(r) for r in records], ensure_ascii=not stdout_takes_unicode(), indent=2))
        return 0
    if not records:
        print("no documents indexed: run `citeqa ingest FILES`")
    for record in records:
        print(
            f"{record.doc_id}\t{record.source}\t{record.chunks} chunks\t{record.added_at}\t"
            f"{record.title}"
        )
    return 0


def run_ask(args: argparse.Namespace, settings: Settings) -> int:
    engine = QAEngine(settings)
    answer = engine.ask(args.question, top_k=args.k, mode=args.mode, retrieval=args.retrieval)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=not stdout_takes_unicode(), indent=2))
    else:
        print_answer(answer)
    return 0


def run_ui(args: argparse.Namespace, settings: Settings) -> int:
    from ui.app import build_app, check_address, launch

    host = args.host or settings.ui_host
    port = settings.ui_port if args.port is None else args.port
    check_address(host, port)  # a taken port or a bad host fails before the index is opened
    engine = QAEngine(settings)
    engine.warm_up()
    app = build_app(engine, settings)
    url = launch(app, settings, host=host, port=port, prevent_thread_lock=True)
    print(f"citeqa: serving the chat page on {url} (Ctrl+C stops it)", flush=True)
    try:
        app.block_thread()
    finally:
        app.close()
    return 0


def tolerate_unencodable_output() -> None:
    """Print what the terminal cannot encode as replacement characters (stdout; stderr
    already escapes them), and JSON as ASCII escapes (see run_ask)."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")


def stdout_takes_unicode() -> bool:
    return (sys.stdout.encoding or "").lower().replace("-", "").startswith("utf")


def setting_error(error: ValidationError | SettingsError) -> str:
    """One line naming the environment variable whose value is wrong."""
    if isinstance(error, SettingsError):
        found = re.search(r'field "(\w+)"', str(error))
        name = f"CITEQA_{found.group(1).upper()}" if found else "a CITEQA_* variable"
        return f"setting {name}: not valid JSON (lists are written as JSON, e.g. [\"a.txt\"])"
    first = error.errors()[0]
    where = "_".join(str(part) for part in first["loc"] if not isinstance(part, int)).upper()
    where = where if where.startswith(("CITEQA_", "OPENAI_")) else f"CITEQA_{where}"
    return f"setting {where}: {first['msg'].removeprefix('Value error, ')}"


def main(argv: Sequence[str] | None = None) -> int:
    tolerate_unencodable_output()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        if args.command == "ingest":
            return run_ingest(args, settings)
        if args.command == "delete":
            return run_delete(args, settings)
        if args.command == "documents":
            return run_documents(args, settings)
        if args.command == "ask":
            return run_ask(args, settings)
        if args.command == "ui":
            return run_ui(args, settings)
        from eval.command import run_eval_command

        return run_eval_command(args, settings)
    except CiteqaError as error:
        print(f"citeqa: error: {error}", file=sys.stderr)
        return 1
    except (ValidationError, SettingsError) as error:
        print(f"citeqa: error: {setting_error(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("citeqa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `citeqa ask --json … | head`: the reader left; nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
