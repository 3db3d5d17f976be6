"""Language model commands: train an n-gram LM, tune its weight on a dev set."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from asr.cli.app import lm_app
from asr.cli.options import BatchSize, DecodingFlags, Device, print_error, recognizer
from asr.errors import UserError, output_file


@lm_app.command("train")
def lm_train(
    data_dirs: Annotated[list[Path], typer.Argument(help="Data dirs whose `text` files train the LM")],
    output: Annotated[Path, typer.Option("--output", "-o", help="ARPA file to write")],
    order: Annotated[int, typer.Option("--order", help="N-gram order")] = 4,
    unit: Annotated[str, typer.Option("--unit", help="char (Mandarin; default) or word")] = "char",
    recipe: Annotated[
        Optional[Path],
        typer.Option("--recipe", help="Normalize transcripts with this recipe's `text:` section (the model's)"),
    ] = None,
) -> None:
    """Train a Kneser-Ney n-gram LM on transcripts and write it as ARPA."""
    from asr.config import load_recipe
    from asr.datadir import read_data_dir
    from asr.lm import corpus_sentences, train_kneser_ney, write_arpa
    from asr.vocab import TextConfig

    if unit not in ("char", "word"):
        raise UserError(f"--unit: expected char or word, got {unit!r}")
    output = output_file(output)
    text = load_recipe(recipe).text if recipe else TextConfig()
    texts = [u.text or "" for d in data_dirs for u in read_data_dir(d)]
    sentences = list(corpus_sentences(texts, unit, text))
    if unit == "word" and sentences and sum(len(s) > 1 for s in sentences) < 0.1 * len(sentences):
        raise UserError(
            f"--unit word: {len(sentences)} transcripts but almost none has two words; unsegmented text "
            "(Mandarin) makes every sentence one word: use --unit char"
        )
    model = train_kneser_ney(sentences, order)
    write_arpa(output, model)
    print(
        f"{output}: {order}-gram {unit} LM from {len(texts)} transcripts, "
        + ", ".join(f"{len(model[k])} {k}-grams" for k in sorted(model))
    )


@lm_app.command("tune")
def lm_tune(
    model: Annotated[Path, typer.Option("--model", "-m", help="Model file")],
    data: Annotated[Path, typer.Option("--data", "-d", help="Dev data dir")],
    lm: Annotated[Path, typer.Option("--lm", help="Language model")],
    alphas: Annotated[str, typer.Option(help="Comma-separated LM weights")] = "0,0.25,0.5,0.75,1.0,1.5",
    betas: Annotated[str, typer.Option(help="Comma-separated insertion bonuses")] = "0,0.5,1.0,2.0",
    beam: Annotated[int, typer.Option(help="Beam width")] = 10,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Write the best settings as YAML (for --decode)")
    ] = None,
    batch_size: BatchSize = 16,
    device: Device = "auto",
) -> None:
    """Grid-search alpha and beta on a dev set; prints the CER table and the best pair."""
    from rich.table import Table

    from asr.datadir import read_data_dir
    from asr.evaluate import parse_grid, tune_lm

    grid_a = parse_grid(alphas, "--alphas", minimum=0.0)
    grid_b = parse_grid(betas, "--betas")
    rec, _ = recognizer(model, DecodingFlags(decoder="beam", beam=beam, lm=lm), device=device)
    utts = read_data_dir(data)

    cers = tune_lm(rec, utts, grid_a, grid_b, batch_size=batch_size, on_error=print_error)
    table = Table("alpha \\ beta", *[f"{b:g}" for b in grid_b], title=f"CER on {data} (beam {beam})")
    for a in grid_a:
        table.add_row(f"{a:g}", *[f"{cers[(a, b)]:.2%}" for b in grid_b])
    Console().print(table)
    (best_a, best_b), best = min(cers.items(), key=lambda kv: kv[1])
    print(f"best: alpha {best_a:g} beta {best_b:g} CER {best:.2%}")
    if output:
        import yaml

        settings = {"decoder": "beam", "beam": beam, "lm": str(lm.resolve()), "alpha": best_a, "beta": best_b}
        output.write_text(yaml.safe_dump(settings, sort_keys=False))
