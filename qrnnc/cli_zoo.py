"""`qrnnc zoo list / show / eval / train / install / results`: the model zoo (qrnnc.modelzoo)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markdown import Markdown
from rich.table import Table

from qrnnc import modelzoo as zoo
from qrnnc.cli import app, out

zoo_app = typer.Typer(
    help="Trained QRNNs with matched classical baselines and model cards.", no_args_is_help=True
)
app.add_typer(zoo_app, name="zoo")

ZooOption = Annotated[
    Path | None, typer.Option("--zoo", help=f"the zoo folder (default: ${zoo.ENV} or the package)")
]


def _error(e: Exception) -> typer.Exit:
    typer.echo(f"error: {e}", err=True)
    return typer.Exit(1)


@zoo_app.command("list")
def list_entries(zoo_dir: ZooOption = None) -> None:
    """A table of the entries: task, qubits, parameters, the QRNN's and the best baseline's
    test metric."""
    try:
        entries = zoo.index(zoo_dir)
    except zoo.ZooError as e:
        raise _error(e) from None
    table = Table(title=f"qrnnc zoo ({zoo.root(zoo_dir)})", show_header=True)
    for col in ("name", "task", "qubits", "params", "metric", "best baseline"):
        table.add_column(col, justify="right" if col in ("qubits", "params") else "left")
    for e in entries:
        params = "-" if e.model.parameters is None else f"{e.model.parameters:,}"
        metric, baseline = "untrained", "-"
        if e.card is not None:
            name = e.card.metric.name
            q = e.card.run("qrnn")
            if q is not None and name in q.metrics.get("test", {}):
                metric = f"{name} {q.metrics['test'][name]:.4f}"
            bases = [r for r in e.card.runs if r.kind != "qrnn" and name in r.metrics["test"]]
            if bases:
                pick = max if e.card.metric.higher_is_better else min
                best = pick(bases, key=lambda r: r.metrics["test"][name])
                baseline = f"{best.kind} {best.metrics['test'][name]:.4f}"
        table.add_row(e.name, e.task.name, str(e.model.qubits), params, metric, baseline)
    out.print(table)


@zoo_app.command()
def show(
    name: Annotated[str, typer.Argument(help="a zoo entry, e.g. copying")],
    zoo_dir: ZooOption = None,
) -> None:
    """The entry's model card (card.md); for an untrained entry, its model's facts."""
    try:
        folder = zoo.entry(name, zoo_dir)
        card = zoo.read_card(folder)
    except zoo.ZooError as e:
        raise _error(e) from None
    if card is not None:
        typer.echo((folder / zoo.CARD_MD).read_text())
        return
    facts = next(e for e in zoo.index(zoo_dir) if e.name == name)
    m = facts.model
    settings = ", ".join(f"{k}={v}" for k, v in facts.task.settings.items())
    params = "unknown until trained" if m.parameters is None else f"{m.parameters:,}"
    typer.echo(
        f"zoo entry {name}: untrained (no card.json yet)\n"
        f"  file: {folder / zoo.MODEL}\n"
        f"  task: {facts.task.name}({settings})\n"
        f"  qubits: {m.qubits}\n"
        f"  gates per step: {', '.join(f'{k} {v}' for k, v in m.gates.items())}\n"
        f"  depth: {m.depth}\n"
        f"  parameters: {params}\n"
        f"train it: qrnnc zoo train {name} --out runs/{name}"
    )


@zoo_app.command("eval")
def evaluate(
    name: Annotated[str, typer.Argument(help="a zoo entry, e.g. copying")],
    data: Annotated[Path | None, typer.Option(help="the data folder (default: the card's)")] = None,
    record: Annotated[
        bool,
        typer.Option(
            "--record",
            help=f"when every number agrees, write the re-measurement to the entry's"
            f" {zoo.RECORD} (for entries whose data CI cannot make)",
        ),
    ] = False,
    zoo_dir: ZooOption = None,
) -> None:
    """Re-measure every number on the card from the shipped checkpoints; exit 1 when one is
    outside the card's tolerance."""
    try:
        card = zoo.read_card(zoo.entry(name, zoo_dir))
        if data is None and card is not None:
            _announce_prepare(card)
        checks = zoo.evaluate_entry(name, data, zoo=zoo_dir)
    except (zoo.ZooError, ValueError, FileNotFoundError, KeyError) as e:
        raise _error(e) from None
    table = Table(title=f"zoo entry {name}: card vs measured", show_header=True)
    for col in ("model", "split", "metric", "card", "measured", "ok"):
        table.add_column(col, justify="right" if col in ("card", "measured") else "left")
    for c in checks:
        table.add_row(
            c.kind, c.split, c.metric, f"{c.card:.6g}", f"{c.measured:.6g}",
            "ok" if c.ok else "[red]FAIL[/red]",
        )  # fmt: skip
    out.print(table)
    failed = [c for c in checks if not c.ok]
    if failed:
        typer.echo(
            f"error: {len(failed)} of {len(checks)} numbers on zoo/{name}/card.json are not"
            " reproduced by its checkpoints",
            err=True,
        )
        raise typer.Exit(1)
    if record:
        try:
            path = zoo.write_record(name, checks, data, zoo=zoo_dir)
        except zoo.ZooError as e:
            raise _error(e) from None
        out.print(f"wrote {path}")


@zoo_app.command()
def train(
    name: Annotated[str, typer.Argument(help="a zoo entry, e.g. copying")],
    out_dir: Annotated[Path, typer.Option("--out", help="runs go to OUT/<kind>")],
    only: Annotated[
        str | None, typer.Option(help="comma-separated kinds to train, e.g. qrnn,lstm")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="the data folder (default: the card's)")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace runs in OUT")] = False,
    zoo_dir: ZooOption = None,
) -> None:
    """Run the card's training commands (an untrained entry: the QRNN with the file's
    settings), each into OUT/<kind>."""
    try:
        commands = _commands(name, zoo_dir, data)
    except zoo.ZooError as e:
        raise _error(e) from None
    if only is not None:
        wanted = [k.strip() for k in only.split(",") if k.strip()]
        unknown = [k for k in wanted if k not in commands]
        if unknown:
            raise _error(
                zoo.ZooError(
                    f"--only {only}: entry {name} has no {', '.join(unknown)} run; it has"
                    f" {', '.join(commands)}"
                )
            )
        commands = {k: commands[k] for k in wanted}
    from typer.main import get_command

    cli = get_command(app)
    for kind, args in commands.items():
        args = [*args, "--out", str(out_dir / kind), *(["--overwrite"] if overwrite else [])]
        out.print(f"[bold]{kind}[/bold]: qrnnc {' '.join(args)}")
        # The same code path as `qrnnc train`, in this process: nothing differs but argv.
        code = cli.main(args, prog_name="qrnnc", standalone_mode=False)
        if code:
            raise typer.Exit(code)


def _commands(name: str, zoo_dir: Path | None, data: Path | None) -> dict[str, list[str]]:
    """The `train ...` arguments per kind, with the entry's real file and data folder."""
    folder = zoo.entry(name, zoo_dir)
    card = zoo.read_card(folder)
    file = str(folder / zoo.MODEL)
    if card is None:
        args = ["train", file]
        return {"qrnn": args + (["--data", str(data)] if data is not None else [])}
    if data is None:  # the card's folder: made here when it is an offline conversion
        _announce_prepare(card)
        data = zoo.data_folder(name, card.data, None)
    commands = {}
    for run in card.runs:
        args = list(run.command[1:])  # drop "qrnnc"
        args[1] = file  # zoo/<name>/model.qrnn relative to the repo; this zoo's copy
        if data is not None:
            if "--data" in args:
                args[args.index("--data") + 1] = str(data)
            else:
                args += ["--data", str(data)]
        commands[run.kind] = args
    return commands


@zoo_app.command()
def install(
    name: Annotated[str, typer.Argument(help="a zoo entry, e.g. copying")],
    run: Annotated[
        list[str], typer.Option("--run", help="KIND=RUN_FOLDER, e.g. qrnn=runs/copying")
    ],
    data: Annotated[
        Path | None, typer.Option(help="the data folder to measure on (default: the card's)")
    ] = None,
    notes: Annotated[str | None, typer.Option(help="the card's notes (default: kept)")] = None,
    source: Annotated[
        str | None, typer.Option(help="what the data is and where from (default: the task's)")
    ] = None,
    prepare: Annotated[
        str | None, typer.Option(help="the command that makes the data folder given by --data")
    ] = None,
    zoo_dir: ZooOption = None,
) -> None:
    """Maintainers: make or update an entry from trained run folders (checkpoint, card)."""
    trained: dict[str, str] = {}
    for item in run:
        kind, sep, folder = item.partition("=")
        if not sep or kind not in zoo.KINDS:
            raise typer.BadParameter(
                f"{item!r}: expected KIND=RUN_FOLDER with KIND one of {', '.join(zoo.KINDS)}",
                param_hint="--run",
            )
        trained[kind] = folder
    described = None
    if source is not None or prepare is not None:
        if source is None or prepare is None or data is None:
            raise typer.BadParameter("--source and --prepare go together, with --data FOLDER")
        described = zoo.Data(
            kind="folder", source=source, prepare=prepare, folder=str(data), sizes={}
        )
    try:
        card = zoo.install(name, trained, zoo=zoo_dir, data=data, source=described, notes=notes)
    except (zoo.ZooError, ValueError, FileNotFoundError) as e:
        raise _error(e) from None
    folder = zoo.entry(name, zoo_dir)
    out.print(Markdown((folder / zoo.CARD_MD).read_text()))
    out.print(f"installed {', '.join(r.kind for r in card.runs)} into {folder}")


@zoo_app.command()
def results(
    out_path: Annotated[Path, typer.Option("--out", help="the Markdown file")] = Path(
        "docs/results.md"
    ),
    zoo_dir: ZooOption = None,
) -> None:
    """Regenerate docs/results.md (and its PNGs) from the cards and zoo/studies/."""
    try:
        path = zoo.results(out_path, zoo=zoo_dir)
    except (zoo.ZooError, OSError) as e:
        raise _error(e) from None
    out.print(f"wrote {path}")


def _announce_prepare(card: zoo.Card) -> None:
    """Say so before the card's data folder is made offline (apt and npm data is not: the
    error that follows names its prepare command)."""
    folder = card.data.folder
    if folder is not None and not Path(folder).is_dir() and not zoo.needs_external_data(card.data):
        out.print(f"{folder} is not there: making it with `{card.data.prepare}`")
