"""Every `gpubench` subcommand against bad input of each class: numbers that are NaN, infinite, negative or
too large; files that are missing, empty, a folder, truncated, foreign, without records or damaged;
options that conflict; a standard output that is closed or full. Each ends with its documented status
(gpubench.exits: 2 for a usage or input error, 141 for a closed output), one line on stderr naming the
problem, and no traceback.

A new command joins the table with one line per bad input, `(COMMAND, "ARGS", status, "words of the
line")`; test_every_subcommand_is_in_the_table fails until it has at least one. The cases run in this
process (gpubench.cli.main); only a closed or full stdout needs a process of its own.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from importlib import import_module

import pytest

from gpubench.cli import SUBCOMMANDS, main
from gpubench.exits import EXIT_PIPE, EXIT_USAGE
from gpubench.reports.history import History
from gpubench.results import read
from tests.support import realdata
from tests.support.tiny_model import TINY

HUGE = "99999999999999999999999"  # beyond a signed 64-bit count
TRAIN = "llama-3-8b --gpu h100_sxm5"
# (command, arguments ({name} is a file of the `files` fixture), exit status, words of the stderr line)
CASES = [
    ("list", "--workload-module {missing}", EXIT_USAGE, "missing.json"),
    ("list", "--no-such-option", EXIT_USAGE, "unrecognized arguments: --no-such-option"),
    ("device", "--json extra", EXIT_USAGE, "unrecognized arguments: extra"),
    ("run", "--sustained nan --dry-run", EXIT_USAGE, "--sustained: 'nan' is not a finite number (s)"),
    ("run", "--sustained -5 --dry-run", EXIT_USAGE, "--sustained: -5 s is out of range: it must be above 0"),
    ("run", "--sustained 1e400 --dry-run", EXIT_USAGE, "'1e400' is not a finite number (s)"),
    ("run", "--sustained 601 --dry-run", EXIT_USAGE, "it must be at most 600 s"),
    ("run", "--workload vector_add --dry-run --out {folder}", EXIT_USAGE, "--out: "),
    ("run", "--workload vector_add --dry-run --ceilings {truncated}", EXIT_USAGE, "not valid JSON"),
    ("run", "--items {empty} --workload gemm", EXIT_USAGE, "--items and --workload cannot be given"),
    ("run", "--items {empty} --dry-run", EXIT_USAGE, "empty.json"),
    ("micro", "--only bogus", EXIT_USAGE, "unknown micro-benchmark(s) bogus"),
    ("micro", "--out {folder}", EXIT_USAGE, "--out: "),
    ("ncu", "{missing} --dry-run", EXIT_USAGE, "missing.json: no such file"),
    ("ncu", "{empty} --dry-run", EXIT_USAGE, "empty.json: not valid JSON"),
    ("ncu", "{folder} --dry-run", EXIT_USAGE, "is a directory"),
    ("ncu", "{foreign} --dry-run", EXIT_USAGE, "not a gpubench results file"),
    ("ncu", "{no_records} --dry-run", EXIT_USAGE, "no ok record matches"),
    ("comm", "-f nan --predict --topology dgx-h100", EXIT_USAGE, "-f/--stepfactor: 'nan' is not a finite"),
    ("comm", "-e 1e400 --predict --topology dgx-h100", EXIT_USAGE, "'1e400' is not a finite size"),
    ("comm", "--ranks -1 --predict --topology dgx-h100", EXIT_USAGE, "--ranks: -1 ranks is out of range"),
    ("comm", f"--nodes {HUGE} --predict --topology dgx-h100", EXIT_USAGE, f"--nodes: {HUGE} nodes is out"),
    ("comm", "--min-bw inf", EXIT_USAGE, "--min-bw: 'inf' is not a finite number (GB/s)"),
    ("comm", "--hang-timeout -1", EXIT_USAGE, "--hang-timeout: -1 s is out of range"),
    ("comm", "--predict --topology {missing}", EXIT_USAGE, "missing.json does not exist"),
    ("comm", "--predict --topology {folder}", EXIT_USAGE, "adir is a folder"),
    ("comm", "--predict --topology {empty}", EXIT_USAGE, "empty.json is empty"),
    ("comm", "--predict --topology {foreign}", EXIT_USAGE, "topology file"),
    ("comm", "--predict --topology dgx-h100 --out {out}/c.json", EXIT_USAGE, "--predict and --out cannot"),
    ("comm", "--predict", EXIT_USAGE, "--predict applies only with --topology"),
    ("comm", "--quick --timeout 2", EXIT_USAGE, "--quick and --timeout cannot be given together"),
    ("ncu", "{results} --min-time nan --dry-run", EXIT_USAGE, "--min-time: 'nan' is not a finite"),
    ("ncu", f"{{results}} --limit {HUGE} --dry-run", EXIT_USAGE, f"--limit: {HUGE} records is out of range"),
    ("specs", "--no-such-option", EXIT_USAGE, "unrecognized arguments: --no-such-option"),
    ("specs", "Z9000", EXIT_USAGE, "no GPU or system matches 'Z9000': `gpubench specs` lists"),
    ("specs", "--ceilings {h100_ceilings}", EXIT_USAGE, "--ceilings applies only with --ridge"),
    ("specs", "h200 --ridge --ceilings {h100_ceilings}", EXIT_USAGE, "not on NVIDIA H200"),
    ("specs", "h100_sxm5 --ridge --ceilings {truncated}", EXIT_USAGE, "not valid JSON"),
    ("specs", "--spec-file {folder}", EXIT_USAGE, "--spec-file"),
    ("specs", "--spec-file {empty}", EXIT_USAGE, "--spec-file"),
    ("tiling", "{gemm} --peak-tflops 1 --bandwidth-gbs nan", EXIT_USAGE, "'nan' is not a finite"),
    ("tiling", "{gemm} --bandwidth-gbs 1 --peak-tflops inf", EXIT_USAGE, "'inf' is not a finite"),
    ("tiling", "{gemm} --bandwidth-gbs -1 --peak-tflops 1", EXIT_USAGE, "-1 GB/s is out of range"),
    ("tiling", f"--M {HUGE} --N 4 --K 4 --tm 2 --tn 2 --tk 2", EXIT_USAGE, f"--M: {HUGE} elements is out"),
    ("tiling", "{gemm} --gpu h100_sxm5 --bandwidth-gbs 1", EXIT_USAGE, "--gpu and --bandwidth-gbs cannot"),
    ("tiling", "{gemm} --ceilings {h100_ceilings}", EXIT_USAGE, "--ceilings applies only with --gpu or"),
    ("predict", "{missing} --gpu h100_sxm5", EXIT_USAGE, "missing.json: no such file"),
    ("predict", "{truncated} --gpu h100_sxm5", EXIT_USAGE, "not valid JSON"),
    ("predict", "{no_records} --gpu h100_sxm5", EXIT_USAGE, "no ok record"),
    ("systolic", "{missing}", EXIT_USAGE, "missing.json"),
    ("systolic", "{topology} --bandwidth nan", EXIT_USAGE, "'nan' is not a finite number (words/cycle)"),
    ("systolic", "{topology} --gpu h100_sxm5 --clock-mhz inf", EXIT_USAGE, "'inf' is not a finite"),
    ("systolic", "{topology} --clock-mhz 500", EXIT_USAGE, "--clock-mhz applies only with --gpu"),
    ("dse", "{topology} --top 0", EXIT_USAGE, "--top: 0 configurations is out of range"),
    ("dse", "{topology} --pe-area -1", EXIT_USAGE, "--pe-area: -1 mm^2 is out of range"),
    ("dse", "{topology} --shapes 8x8 --rows 8", EXIT_USAGE, "--shapes and --rows cannot be given"),
    ("dse", "{folder}", EXIT_USAGE, "adir"),
    ("report", "{missing} --out {out}", EXIT_USAGE, "missing.json: no such file"),
    ("report", "{empty} --out {out}", EXIT_USAGE, "empty.json: not valid JSON"),
    ("report", "{truncated} --out {out}", EXIT_USAGE, "not valid JSON (truncated or corrupt?)"),
    ("report", "{foreign} --out {out}", EXIT_USAGE, "not a gpubench results or ceilings file"),
    ("report", "{no_records} --out {out}", EXIT_USAGE, "holds no records: nothing to report"),
    ("report", "{results} --history {damaged} --out {out}", EXIT_USAGE, "restore it from a backup"),
    ("report", "{results} --history {other_sqlite} --out {out}", EXIT_USAGE, "another program"),
    ("gate", "{results} {missing}", EXIT_USAGE, "missing.json: no such file"),
    ("gate", "{results} {folder}", EXIT_USAGE, "is a directory"),
    ("gate", "{results} {no_device}", EXIT_USAGE, "device.name: missing or empty"),
    ("gate", "{results} {fp128}", EXIT_USAGE, "dtype: 'fp128' is not one of"),
    ("gate", "{results} {results} --threshold nan", EXIT_USAGE, "--threshold: 'nan' is not a finite number"),
    ("gate", f"{{results}} {{results}} --resamples {HUGE}", EXIT_USAGE, "must be at most 100000 resamples"),
    ("gate", "--baseline-history 2 --history {damaged} {results}", EXIT_USAGE, "restore it from a backup"),
    ("gate", "--baseline-history 2 --history {empty} {results}", EXIT_USAGE, "holds no history"),
    ("compare", "{results} {truncated}", EXIT_USAGE, "not valid JSON"),
    ("compare", "{results} {foreign}", EXIT_USAGE, "not a gpubench results file"),
    ("export", "{empty} --csv", EXIT_USAGE, "empty.json: not valid JSON"),
    ("export", "{results} --csv --parquet", EXIT_USAGE, "not allowed with argument"),
    ("export", "{no_records} --csv", EXIT_USAGE, "no_records.json: holds no records: nothing to export"),
    ("submit", "--local --array 0", EXIT_USAGE, "--array: 0 jobs is out of range"),
    ("submit", f"--local --nodes {HUGE}", EXIT_USAGE, f"--nodes: {HUGE} nodes is out of range"),
    ("submit", "--local --partition gpu", EXIT_USAGE, "--local and --partition cannot be given together"),
    ("merge", "{truncated} --out {out}/m.json", EXIT_USAGE, "not valid JSON"),
    ("merge", "{results} --out {folder}", EXIT_USAGE, "is a directory"),
    ("merge", "{no_records} --out {out}/m.json", EXIT_USAGE, "holds no records: nothing to merge"),
    ("history", "show --db {damaged} --workload gemm", EXIT_USAGE, "restore it from a backup"),
    ("history", "show --db {empty} --workload gemm", EXIT_USAGE, "holds no history"),
    ("history", "show --db {other_sqlite} --workload gemm", EXIT_USAGE, "an SQLite file of another program"),
    ("history", "add {results} --db {other_sqlite}", EXIT_USAGE, "an SQLite file of another program"),
    ("history", "add {truncated} --db {out}/h.sqlite", EXIT_USAGE, "not valid JSON"),
    ("history", "add {no_records} --db {out}/h.sqlite", EXIT_USAGE, "holds no records: nothing to add"),
    ("model", "llama-7b --phase prefill --seq nan --gpu h100_sxm5", EXIT_USAGE, "'nan' is not a whole"),
    ("model", "llama-7b --phase prefill --seq 8 --batch -1 --gpu h100_sxm5", EXIT_USAGE, "-1 sequences is"),
    ("model", f"llama-7b --phase prefill --seq {HUGE} --gpu h100_sxm5", EXIT_USAGE, f"{HUGE} tokens is out"),
    ("model", "{model_json} --phase decode --context 8 --gpu h100_sxm5", EXIT_USAGE, "missing fields layers"),
    ("model", "--list llama-7b", EXIT_USAGE, "--list and NAME cannot be given together"),
    ("model", "llama-7b --phase decode --context 8 --gpu h100_sxm5 --dataflow a_stationary", EXIT_USAGE,
     "--dataflow applies only with --tile"),
    ("model", "llama-7b --phase decode --context 8 --gpu h100_sxm5 --ceilings {truncated}", EXIT_USAGE,
     "not valid JSON"),
    ("train", f"{TRAIN} --gpus nan", EXIT_USAGE, "--gpus: 'nan' is not a whole number (GPUs)"),
    ("train", f"{TRAIN} --gpus {HUGE}", EXIT_USAGE, f"--gpus: {HUGE} GPUs is out of range"),
    ("train", f"{TRAIN} --gpus 8 --tokens -1", EXIT_USAGE, "--tokens: -1 tokens is out of range"),
    ("train", f"{TRAIN} --gpus 8 --tokens inf", EXIT_USAGE, "--tokens: 'inf' is not a finite number"),
    ("train", "{model_json} --gpu h100_sxm5 --gpus 8", EXIT_USAGE, "missing fields layers"),
    ("train", "{missing} --gpu h100_sxm5 --gpus 8", EXIT_USAGE, "missing.json"),
    ("train", f"{TRAIN} --gpus 8 --ceilings {{truncated}}", EXIT_USAGE, "not valid JSON"),
    ("train", "llama-3-8b --gpu h200 --gpus 8 --ceilings {h100_ceilings}", EXIT_USAGE, "not on NVIDIA H200"),
    ("train", f"{TRAIN} --gpus 8 --topology {{folder}}", EXIT_USAGE, "adir is a folder"),
    ("train", f"{TRAIN} --gpus 8 --plot {{folder}}", EXIT_USAGE, "--plot"),
    ("train", f"{TRAIN} --gpus 8 --search --tp 2", EXIT_USAGE, "--search and --tp cannot be given together"),
    ("train", f"{TRAIN} --gpus 8 --what-if dram_bw=nanx", EXIT_USAGE, "--what-if dram_bw=nanx"),
    ("train", "--validate --gpus 8", EXIT_USAGE, "--validate and --gpus cannot be given together"),
    ("train-step", "llama-3-8b --layers nan", EXIT_USAGE, "--layers: 'nan' is not a whole number (layers)"),
    ("train-step", f"llama-3-8b --seq {HUGE}", EXIT_USAGE, f"--seq: {HUGE} tokens is out of range"),
    ("train-step", "llama-3-8b --steps -1", EXIT_USAGE, "--steps: -1 steps is out of range"),
    ("train-step", "llama-3-8b --layers 33", EXIT_USAGE, "--layers 33: Llama-3-8B has 32 layers"),
    ("train-step", "llama-3-8b --out {folder}", EXIT_USAGE, "is a folder"),
    ("train-step", "{missing}", EXIT_USAGE, "missing.json"),
    ("train-step", "llama-3-8b --gpu h200 --ceilings {h100_ceilings}", EXIT_USAGE, "not on NVIDIA H200"),
    ("train-step", "llama-3-8b --gpu h100_sxm5 --ceilings {empty}", EXIT_USAGE, "empty.json"),
    ("train-step", "llama-3-8b --what-if dram_bw=2x", EXIT_USAGE, "--what-if needs a GPU"),
    ("layer", "llama-7b --phase prefill --seq inf --dry-run", EXIT_USAGE, "'inf' is not a whole number"),
    ("layer", "llama-7b --phase decode --context 8 --ceilings {foreign} --dry-run", EXIT_USAGE,
     "not a gpubench ceilings file"),
    ("layer", "llama-7b --phase decode --context 8 --out {folder} --dry-run", EXIT_USAGE, "is a folder"),
    ("profile-module", "--top 0", EXIT_USAGE, "--top: 0 nodes is out of range"),
    ("profile-module", "--batch nan", EXIT_USAGE, "--batch: 'nan' is not a whole number"),
    ("profile-module", "--layers 2", EXIT_USAGE, "--layers applies only with --hf"),
]  # fmt: skip
# A closed pipe (the reader went away: `| head`) and a full disk (/dev/full), each in a process of its own.
OUTPUT_CASES = [
    ("specs", "closed", EXIT_PIPE, ""),
    ("list", "closed", EXIT_PIPE, ""),
    ("device --json", "closed", EXIT_PIPE, ""),
    ("export {results} --csv", "closed", EXIT_PIPE, ""),
    ("comm --predict --topology dgx-h100", "closed", EXIT_PIPE, ""),
    (f"train {TRAIN} --gpus 8 --tp 8", "closed", EXIT_PIPE, ""),
    (f"train {TRAIN} --gpus 8 --tp 8 --json", "full", EXIT_USAGE, "gpubench train: error: cannot write to"),
    ("train-step {tiny_model} --layers 1 --seq 16 --steps 1 --warmup 0", "closed", EXIT_PIPE, ""),
    ("specs --json", "full", EXIT_USAGE, "gpubench specs: error: cannot write to standard output: No space"),
    ("device --json", "full", EXIT_USAGE, "gpubench device: error: cannot write to standard output"),
    ("export {results} --csv", "full", EXIT_USAGE, "gpubench export: error: cannot write to standard output"),
]  # fmt: skip


def _damaged_history(folder):
    """A history whose header is intact and whose later pages are overwritten."""
    path = folder / "damaged.sqlite"
    with History(path) as h:
        h.add(read(realdata.H100_RESULTS))
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 2, len(data), 97):
        data[i] = (data[i] * 31 + 7) % 256
    path.write_bytes(bytes(data))
    return path


def _results_with(folder, name: str, change) -> str:
    doc = json.loads(realdata.H100_RESULTS.read_text())
    change(doc)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(doc))
    return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    (d / "empty.json").touch()
    (d / "adir").mkdir()
    (d / "foreign.json").write_text(json.dumps({"schema": "something.else", "data": []}))
    text = realdata.H100_RESULTS.read_text()
    (d / "truncated.json").write_text(text[: len(text) // 2])
    (d / "model.json").write_text(json.dumps({"hidden": 64}))
    (d / "tiny.json").write_text(json.dumps({k: v for k, v in TINY.to_json().items() if k != "params"}))
    other = d / "other.sqlite"
    __import__("sqlite3").connect(other).executescript("CREATE TABLE notes (text TEXT);").close()
    (d / "out").mkdir()
    return {
        "missing": d / "missing.json",
        "empty": d / "empty.json",
        "folder": d / "adir",
        "foreign": d / "foreign.json",
        "truncated": d / "truncated.json",
        "no_records": _results_with(d, "no_records", lambda doc: doc.update(records=[])),
        "no_device": _results_with(d, "no_device", lambda doc: doc.update(device={})),
        "fp128": _results_with(d, "fp128", lambda doc: doc["records"][0].update(dtype="fp128")),
        "results": realdata.H100_RESULTS,
        "damaged": _damaged_history(d),
        "other_sqlite": other,
        "model_json": d / "model.json",
        "tiny_model": d / "tiny.json",
        "h100_ceilings": realdata.H100_CEILINGS,
        "topology": realdata.REPO / "systolic" / "data" / "tiny_transformer.csv",
        "gemm": "--M 4 --N 4 --K 4 --tm 2 --tn 2 --tk 2",
        "out": d / "out",
    }


def _argv(files, text: str) -> list[str]:
    return shlex.split(text.format(**{k: str(v) for k, v in files.items()}))


def test_every_subcommand_is_in_the_table():
    assert set(SUBCOMMANDS) - {command for command, *_ in CASES} == set()


@pytest.mark.parametrize("command, args, status, words", CASES, ids=[f"{c[0]} {c[1]}" for c in CASES])
def test_bad_input_is_one_line_and_its_documented_status(files, command, args, status, words, capsys,
                                                         monkeypatch, tmp_path):  # fmt: skip
    monkeypatch.chdir(tmp_path)  # whatever a command would write by default lands here
    code = main([command, *_argv(files, args)])
    err = capsys.readouterr().err
    assert code == status, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"gpubench {command}: error: ") and words in err, err
    assert not any(tmp_path.iterdir()), "a refused command wrote something"


@pytest.fixture(scope="module")
def output_runs(files):
    """Every OUTPUT_CASES command started at once (each imports the suite anew), then collected."""
    procs = []
    for args, kind, _, _ in OUTPUT_CASES:
        read_end, write_end = os.pipe()
        if kind == "closed":  # the reader is gone before the first byte is written
            os.close(read_end)
            stdout = write_end
        else:
            stdout = os.open("/dev/full", os.O_WRONLY)
            os.close(read_end)
            os.close(write_end)
        cmd = [sys.executable, "-m", "gpubench.cli", *_argv(files, args)]
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True, cwd=realdata.REPO)
        procs.append(proc)
        os.close(stdout)
    return [(p.wait(timeout=300), p.stderr.read()) for p in procs]


@pytest.mark.parametrize("i", range(len(OUTPUT_CASES)), ids=[f"{c[0]} ({c[1]})" for c in OUTPUT_CASES])
def test_a_closed_or_full_output_ends_with_its_documented_status(output_runs, i):
    code, err = output_runs[i]
    _, kind, status, words = OUTPUT_CASES[i]
    assert code == status and "Traceback" not in err, err
    if kind == "closed":  # quietly: the reader went away, there is nobody to tell
        assert err == "", err
    else:
        assert len(err.strip().splitlines()) == 1 and err.startswith(words), err


STANDALONE = sorted(m for m in SUBCOMMANDS.values() if hasattr(import_module(m), "main"))


@pytest.mark.parametrize("module", STANDALONE)
def test_a_python_m_entry_point_is_the_same_command(module, capsys):
    """`python -m MODULE` parses through the same Parser: a usage error is one line under the command's
    name, exit 2 (the module's main, as `python -m` runs it)."""
    code = import_module(module).main(["--no-such-option"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and len(err.strip().splitlines()) == 1, err
    assert err.startswith("gpubench ") and "error: " in err and "Traceback" not in err, err
