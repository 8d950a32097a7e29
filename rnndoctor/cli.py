"""Command line: parse options, call the engine, render, exit. No diagnosis logic lives here."""

from __future__ import annotations

import contextlib
import difflib
import json
import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from rnndoctor import __version__
from rnndoctor.core.catalogue import code_range, codes_matching, unmatched_code
from rnndoctor.core.findings import EXIT_INTERRUPTED, EXIT_SETUP, FailOn, Report
from rnndoctor.render import Format, ReportTarget, parse_report_target, prepare_targets
from rnndoctor.setup.errors import SetupError

_CODE_TOKEN = re.compile(r"^RD\d{0,3}(,RD\d{0,3})*$", re.IGNORECASE)
_MULTI_VALUE_OPTIONS = ("--select", "--ignore")
ANY_CHECK = "any check"
"""Where `rnndoctor rules` says the setup codes come from: every check that runs the user's code or data."""


def expand_code_lists(args: list[str]) -> list[str]:
    """Let ``--select RD101 RD102`` and ``--select RD101,RD102`` mean two ``--select`` options."""
    out: list[str] = []
    current: str | None = None
    for index, arg in enumerate(args):
        if arg == "--":
            out.extend(args[index:])  # a script's own arguments are left as they are
            break
        if arg in _MULTI_VALUE_OPTIONS:
            current = arg
            out.append(arg)
            continue
        if current is not None and _CODE_TOKEN.match(arg):
            codes = [c for c in arg.split(",") if c]
            if out and out[-1] == current:
                out.append(codes[0])
                codes = codes[1:]
            for code in codes:
                out.extend([current, code])
            continue
        current = None
        out.append(arg)
    return out


class _CheckCommand(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, expand_code_lists(list(args)))


def _fail(message: str, debug: bool, error: BaseException | None = None) -> NoReturn:
    if debug and error is not None:
        traceback.print_exception(error)
    click.echo(f"rnndoctor: error: {message}", err=True)
    sys.exit(EXIT_SETUP)


_format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in Format]),
    default="text",
    show_default=True,
    help="Report format written to stdout (or to --output).",
)
_output_option = click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=str),
    help="Write the report to FILE instead of stdout (the text report still goes to the terminal).",
)


def _report_targets(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[ReportTarget, ...]:
    try:
        return tuple(parse_report_target(value) for value in values)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


_report_option = click.option(
    "--report",
    "reports",
    multiple=True,
    metavar="FORMAT=PATH",
    callback=_report_targets,
    help="Also write the report in FORMAT to PATH, creating its folder. Repeatable: several formats from one run.",
)

_plots_option = click.option(
    "--plots",
    "plots_dir",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="Also write the measured curves as PNG files into this folder (needs rnndoctor[plots]).",
)
_debug_option = click.option("--debug", is_flag=True, help="Show Python tracebacks for setup errors.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rnndoctor")
def cli() -> None:
    """Find out why a recurrent network will not train: a ranked diagnosis with fixes."""


@cli.command(cls=_CheckCommand)
@click.argument("config", type=click.Path(path_type=str))
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED)
@_format_option
@_output_option
@_report_option
@click.option(
    "--fail-on",
    type=click.Choice([f.value for f in FailOn]),
    default=None,
    help="Lowest severity that makes the exit code 1 (default: the config's, else error).",
)
@click.option("--quick", is_flag=True, help="Only the fast checks (data, structure, loss, a short probe).")
@click.option(
    "--no-verify",
    is_flag=True,
    help="Do not try the findings' fixes on the model (faster; the ranking then uses the measurements alone).",
)
@click.option("--device", default=None, help="auto, cpu, cuda or cuda:N (default: the config's, else auto).")
@click.option("--seed", type=int, default=None, help="Seed for torch, numpy and random during the run.")
@click.option("--select", multiple=True, metavar="CODE", help="Only these codes or prefixes (RD1, RD305). Repeatable.")
@click.option("--ignore", multiple=True, metavar="CODE", help="Never report these codes or prefixes. Repeatable.")
@click.option("--no-progress", is_flag=True, help="Do not show progress on stderr.")
@click.option(
    "--allow-incomplete",
    is_flag=True,
    help="Exit with the findings' code, not 3, when the check_timeout safety net stopped a check.",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Torch threads for the run (default: 1, more only for wide layers on idle cores).",
)
@click.option(
    "--write-config",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    metavar="PATH",
    help="Also write the YAML config that reproduces this run (for CI and pre-commit), then diagnose.",
)
@click.option("--verbose", "-v", is_flag=True, help="Also show what a diagnosed script printed (script mode).")
@_plots_option
@_debug_option
def check(
    config: str,
    script_args: tuple[str, ...],
    fmt: str,
    output: str | None,
    reports: tuple[ReportTarget, ...],
    fail_on: str | None,
    quick: bool,
    no_verify: bool,
    device: str | None,
    seed: int | None,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    no_progress: bool,
    allow_incomplete: bool,
    threads: int | None,
    write_config: str | None,
    verbose: bool,
    plots_dir: str | None,
    debug: bool,
) -> None:
    """Diagnose the training setup described by CONFIG: a YAML file, or a training script (train.py) that is
    run as it is, with everything after -- as its arguments:

        rnndoctor check train.py -- --lr 0.1 --epochs 2
    """
    if script_args and not config.endswith(".py"):
        _fail(f"extra arguments {' '.join(script_args)!r}: only a training script (a .py file) takes arguments", debug)
    _prepare_reports(fmt, output, reports, debug)
    if write_config:
        _write_config(
            config,
            script_args,
            write_config,
            debug,
            device=device,
            seed=seed,
            fail_on=fail_on,
            select=select,
            ignore=ignore,
            allow_incomplete=True if allow_incomplete else None,
        )

    def run(progress: Any) -> Report:
        # Imported here, inside the interrupt handling: importing torch takes seconds, and Ctrl-C during
        # them is an interrupt (130) like any other, not click's "Aborted!" (1, the findings' code).
        from rnndoctor.api import diagnose

        selected, ignored = _codes(select, "--select"), _codes(ignore, "--ignore")
        # The user's own print() calls must not end up inside a JSON or JUnit document on stdout.
        with contextlib.redirect_stdout(sys.stderr):
            return diagnose(
                config,
                script_args=script_args,
                device=device,
                seed=seed,
                fail_on=fail_on,
                select=selected,
                ignore=ignored,
                quick=quick,
                verify=not no_verify,
                threads=threads,
                progress=progress,
                allow_incomplete=True if allow_incomplete else None,
            )

    report = _produce(run, "before any check ran", no_progress, debug, lines=True)
    if verbose and report.script_output:
        click.echo("rnndoctor: the script's output during the diagnosis:", err=True)
        click.echo(report.script_output.rstrip(), err=True)
    _emit(report, fmt, output, plots_dir, debug, reports)


def _write_config(config: str, script_args: tuple[str, ...], path: str, debug: bool, **options: Any) -> None:
    from rnndoctor.setup.config_writer import reproducing_config

    try:
        text = reproducing_config(config, script_args, Path(path), options)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
    except SetupError as exc:
        _fail(str(exc), debug, exc)
    except OSError as exc:
        _fail(f"--write-config {path}: cannot write: {exc.strerror or exc}", debug, exc)
    click.echo(f"rnndoctor: config written to {path} (rnndoctor check {path} reproduces this run)", err=True)


def _produce(
    run: Callable[[Any], Report], interrupted: str, no_progress: bool, debug: bool, lines: bool = False
) -> Report:
    """Run a diagnosis with progress on stderr (a live bar in a terminal; with ``lines``, one line per check
    start and end elsewhere, as in a CI log); a setup error, an interrupt or a bug ends the command with its
    exit code and one line (the traceback only with --debug)."""
    try:
        progress: Any = None
        if not no_progress and sys.stderr.isatty():
            from rnndoctor.render.progress import RichProgress

            progress = RichProgress()
        elif not no_progress and lines:
            from rnndoctor.render.progress import LineProgress

            progress = LineProgress(sys.stderr)
        return run(progress)
    except SetupError as exc:
        _fail(str(exc), debug, exc)
    except KeyboardInterrupt:
        click.echo(f"rnndoctor: interrupted {interrupted}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - never show a raw traceback without --debug
        _fail(f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)", debug, exc)


def _targets(fmt: str, output: str | None, reports: tuple[ReportTarget, ...]) -> list[ReportTarget]:
    return [*([ReportTarget(Format(fmt), Path(output))] if output else []), *reports]


def _prepare_reports(fmt: str, output: str | None, reports: tuple[ReportTarget, ...], debug: bool) -> None:
    """Fail before the run, not after it, when a report file cannot be written."""
    try:
        prepare_targets(_targets(fmt, output, reports))
    except OSError as exc:
        _fail(f"cannot write the report: {exc}", debug, exc)


def _emit(
    report: Report,
    fmt: str,
    output: str | None,
    plots_dir: str | None,
    debug: bool,
    reports: tuple[ReportTarget, ...] = (),
) -> None:
    """Write the report where it was asked for, then exit with its code."""
    from rnndoctor.render import render, write_report
    from rnndoctor.render.text import print_to_terminal

    for target in _targets(fmt, output, reports):
        try:
            write_report(report, target)
        except OSError as exc:
            _fail(f"{target.path}: cannot write the report: {exc.strerror or exc}", debug, exc)
        click.echo(f"rnndoctor: {target.fmt.value} report written to {target.path}", err=True)
    if fmt != Format.TEXT.value and not output:
        click.echo(render(report, fmt), nl=False)
    elif fmt != Format.TEXT.value or not output:
        print_to_terminal(report, sys.stdout)
    if plots_dir:
        _write_plots(report, plots_dir, debug)
    sys.exit(report.exit_code)


def _write_plots(report: Report, folder: str, debug: bool) -> None:
    from rnndoctor.render.plots import write_plots

    try:
        written = write_plots(report.checks, Path(folder))
    except OSError as exc:
        _fail(f"--plots {folder}: cannot write: {exc.strerror or exc}", debug, exc)
        return
    if written is None:
        click.echo("rnndoctor: --plots needs matplotlib: pip install matplotlib", err=True)
    else:
        click.echo(f"rnndoctor: {len(written)} plot(s) written to {folder}", err=True)


def _codes(values: tuple[str, ...], option: str) -> tuple[str, ...]:
    """Codes and prefixes from repeated or comma-separated options; anything else is a setup error."""
    codes = tuple(code.strip().upper() for value in values for code in value.split(",") if code.strip())
    for code in codes:
        if not _CODE_TOKEN.match(code):
            raise SetupError(f"{option} {code}: not a code or code prefix (RD102, RD1, ...)")
    missing = unmatched_code(codes)
    if missing:
        raise SetupError(f"{option} {missing}: matches no code ({code_range()})")
    return codes


@cli.command(cls=_CheckCommand)
@click.argument("log", type=click.Path(path_type=str))
@_format_option
@_output_option
@_report_option
@click.option(
    "--fail-on",
    type=click.Choice([f.value for f in FailOn]),
    default="error",
    show_default=True,
    help="Lowest severity that makes the exit code 1.",
)
@click.option(
    "--train",
    "train_series",
    metavar="NAME",
    default=None,
    help="The column or tag to read as the training loss (default: chosen by its name).",
)
@click.option(
    "--val",
    "val_series",
    metavar="NAME",
    default=None,
    help="The column or tag to read as the validation loss (default: chosen by its name).",
)
@click.option("--select", multiple=True, metavar="CODE", help="Only these codes or prefixes (RD5, RD601). Repeatable.")
@click.option("--ignore", multiple=True, metavar="CODE", help="Never report these codes or prefixes. Repeatable.")
@click.option("--no-progress", is_flag=True, help="Do not show progress on stderr.")
@_plots_option
@_debug_option
def curves(
    log: str,
    fmt: str,
    output: str | None,
    reports: tuple[ReportTarget, ...],
    fail_on: str,
    train_series: str | None,
    val_series: str | None,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    no_progress: bool,
    plots_dir: str | None,
    debug: bool,
) -> None:
    """Diagnose an existing training history: a CSV (comma, semicolon or tab separated; a Weights & Biases
    export), a Lightning lightning_logs/version_N folder, TensorBoard event files (a file or a folder; needs
    rnndoctor[tensorboard]) or a Hugging Face trainer_state.json (or its output folder). Reports overfitting,
    a flat loss, divergence, oscillation, NaN; lists every series it did not read."""
    _prepare_reports(fmt, output, reports, debug)

    def run(progress: Any) -> Report:
        from rnndoctor.logs.curves import diagnose_history

        selected, ignored = _codes(select, "--select"), _codes(ignore, "--ignore")
        return diagnose_history(
            log,
            FailOn(fail_on),
            select=selected,
            ignore=ignored,
            progress=progress,
            train=train_series,
            val=val_series,
        )

    report = _produce(run, "while reading the training log", no_progress, debug)
    _emit(report, fmt, output, plots_dir, debug, reports)


@cli.command()
@click.argument("code")
def explain(code: str) -> None:
    """Print the documentation of one RD code."""
    from rich.console import Console
    from rich.markdown import Markdown

    from rnndoctor.core.catalogue import all_rules, get_rule

    try:
        rule = get_rule(code)
    except KeyError:
        codes = [r.code for r in all_rules()]
        hint = difflib.get_close_matches(code.upper(), codes, n=1)
        suggestion = f"; did you mean {hint[0]}?" if hint else "; `rnndoctor rules` lists them all"
        click.echo(f"rnndoctor: error: unknown code '{code}'{suggestion}", err=True)
        sys.exit(EXIT_SETUP)
    if sys.stdout.isatty():
        Console().print(Markdown(rule.to_markdown()))
    else:
        click.echo(rule.to_markdown())


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rules(fmt: str) -> None:
    """List every code with its title, default severity and the check that reports it."""
    from rnndoctor.core.catalogue import all_rules
    from rnndoctor.core.registry import reported_codes

    checked_by = reported_codes()
    rows: list[dict[str, Any]] = [
        {
            "code": r.code,
            "title": r.title,
            "severity": r.severity.label,
            "family": r.family,
            # RD001/RD002 come from whichever check meets the crash or the unusable batch.
            "check": checked_by.get(r.code) or (ANY_CHECK if r.code in codes_matching(("RD0",)) else None),
        }
        for r in all_rules()
    ]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, header_style="bold", padding=(0, 1))
    for column in ("code", "severity", "title", "check"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["code"], row["severity"], row["title"], row["check"] or "(not yet checked)")
    # Piped output is read by tools and grep: one line per code, however long the titles are.
    widest = max(len(r["code"]) + len(r["severity"]) + len(r["title"]) + len(r["check"] or "") for r in rows) + 40
    Console(width=max(120, widest) if not sys.stdout.isatty() else None).print(table)


def main() -> None:
    """The console script. Ctrl-C at any moment (imports and a script's start-up included) exits 130, the
    interrupt's code, never click's "Aborted!" with 1, the code for findings."""
    try:
        cli.main(standalone_mode=False)
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("rnndoctor: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
