"""Package a trained LoRA adapter as a model repository: adapter, processor, model card, config, eval results.

ADAPTER_DIR is a recipe's output_dir (adapter_config.json, adapter_model.safetensors, the processor,
resolved_config.yaml, train_results.json). DIR is laid out as a Hugging Face model repository:

  README.md                        model card (huggingface_hub ModelCard: metadata with the eval results per
                                   scenario; data, reward, hyperparameters, eval, usage)
  adapter_config.json              the PEFT adapter (its base model named by Hub id)
  adapter_model.safetensors
  processor / tokenizer files      as AutoProcessor.save_pretrained writes them
  resolved_config.yaml             the training run's resolved configuration, local paths made public
  train_results.json               its final training metrics
  eval/<run>/                      each --eval run's summary.json, summary.md and plots, and episodes/:
                                   its episodes turn by turn, a static page (proactive view)
  merged/                          with --merge: full weights (base + adapter merged, safetensors), config,
                                   generation config and processor; load it from the path DIR/merged

The merged model sits in a subfolder, so the repository root stays a plain PEFT adapter repository (what
``PeftModel.from_pretrained`` and the Hub's adapter widgets expect) and both ship together. Load the merged
model from its path (download ``merged/*`` first): ``from_pretrained(repo, subfolder="merged")`` does not
work, because transformers 5 looks for adapter_config.json at the root without the subfolder and then
loads the adapter's base model instead.
Without --eval, the recipe's own end-of-training evaluation (ADAPTER_DIR/eval) is used when it exists.
Local paths stay local: the card, adapter_config.json and the copied configs name the base model by its Hub
id (--base-model, required when the run's base is a local folder) and every other local path by its last
component; the adapter folder keeps the full resolved_config.yaml. DIR may not be, hold or lie inside the
adapter folder, an --eval run folder or its benchmark folder; --force replaces only a folder an earlier
`proactive release` wrote (it leaves the marker file .proactive-release, which --push does not upload).
--push uploads DIR with huggingface_hub (HfApi.upload_folder); it needs the network and a token
(HF_TOKEN or ``hf auth login``). A failed upload prints one line and exits with status 3; DIR stays complete.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData
from huggingface_hub.utils import HFValidationError, validate_repo_id

from data.markdown import markdown_table
from data.outdir import OutputFolder, OutputFolderError, check_output_folder
from data.records import is_synthetic
from eval.store import CONFIG_FILE, EPISODES_FILE, SUMMARY_FILE, read_summary
from proactive.cli import command_parser
from proactive.merge import merge_adapter

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
RESOLVED_CONFIG = "resolved_config.yaml"
TRAIN_RESULTS = "train_results.json"
MERGED_DIR = "merged"
EVAL_DIR = "eval"
OFFICIAL_DATASET = "tdemin16/ProactiveBench"
SYNTHETIC_DATASET = "synthetic-proactivebench"  # generated offline (proactive synth); not on the Hub
CARD_METRICS = ("acc", "psr")  # the metrics the card's metadata lists per scenario
CARD_TEMPLATE = "---\n{{ card_data }}\n---\n\n{{ body }}"
PUSH_FAILED = 3
RELEASE_MARK = ".proactive-release"  # this folder is an earlier release (--force may replace it)
# Config keys whose values are local files or folders: a release shows only their last component.
LOCAL_PATH_KEYS = frozenset(
    {"benchmark_dir", "output_dir", "logging_dir", "data", "out", "id_filter", "resume_from_checkpoint"}
    | {"resumed_from_checkpoint", "deepspeed"}
)
# Config keys naming a model: kept when a Hub id, reduced like a local path when a local folder.
MODEL_PATH_KEYS = frozenset(
    {"model_name_or_path", "model", "adapter", "judge_model", "base_model_name_or_path"}
)

# Hyperparameters shown in the card, in this order, when the run recorded them.
TRAINING_KEYS = (
    "learning_rate",
    "lr_scheduler_type",
    "warmup_steps",
    "weight_decay",
    "optim",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "num_generations",
    "max_completion_length",
    "temperature",
    "beta",
    "loss_type",
    "epsilon",
    "scale_rewards",
    "bf16",
    "activation_checkpointing",
    "seed",
)
MODEL_KEYS = (
    "dtype",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "lora_target_modules",
    "use_rslora",
    "use_dora",
    "load_in_4bit",
    "load_in_8bit",
)


class ReleaseError(ValueError):
    """An adapter folder, eval run or output folder that cannot be released; the message names the path."""


class PushError(RuntimeError):
    """The upload to the Hub failed (no network, offline mode, no token, no permission)."""


@dataclass
class TrainingRun:
    """What the adapter folder says about the run that produced it."""

    adapter_dir: Path
    adapter_config: dict[str, Any]
    config: dict[str, Any]  # resolved_config.yaml ({} when the folder has none)
    train_results: dict[str, Any]

    @property
    def script_args(self) -> dict[str, Any]:
        return self.config.get("script_args", {})

    @property
    def training_args(self) -> dict[str, Any]:
        return self.config.get("training_args", {})

    @property
    def model_args(self) -> dict[str, Any]:
        return self.config.get("model_args", {})

    @property
    def method(self) -> str:
        """``grpo`` or ``sft``, recognized from the trainer's arguments (``unknown`` without a config)."""
        if "num_generations" in self.training_args:
            return "grpo"
        if "packing" in self.training_args or "completion_only_loss" in self.training_args:
            return "sft"
        return "unknown"

    @property
    def recorded_base(self) -> str | None:
        """The base model the adapter was trained on, as PEFT recorded it (a Hub id or a local folder)."""
        return self.adapter_config.get("base_model_name_or_path") or None

    def hub_base_model(self, override: str | None = None) -> str:
        """The Hub id the release names as its base: ``override`` (--base-model), else the recorded base when
        it is a Hub id. A local folder is refused: a card must not point at a path on this machine."""
        if override is not None:
            if not is_hub_id(override):
                raise ReleaseError(f"--base-model {override!r}: not a Hub model id (NAME or ORG/NAME)")
            return override
        base = self.recorded_base
        config = self.adapter_dir / "adapter_config.json"
        if base is None:
            raise ReleaseError(f"{config}: field 'base_model_name_or_path' is empty; pass --base-model")
        if is_local_model(base):
            raise ReleaseError(
                f"{config}: the base model {base!r} is a local folder; a release names its base by Hub id: "
                "pass --base-model ORG/NAME (the id the folder came from, or where you pushed it)"
            )
        return base

    def loadable_base(self, hub_id: str) -> str:
        """Where this machine loads the base from (merge, processor): the recorded folder if it is here."""
        base = self.recorded_base
        return base if base is not None and Path(base).expanduser().is_dir() else hub_id

    def synthetic(self) -> bool:
        """Whether the run trained on a synthetic benchmark (its folder's marker, or the recorded setting)."""
        folder = self.script_args.get("benchmark_dir")
        if folder and Path(folder).is_dir():
            return (Path(folder) / "synthetic.json").is_file()
        return int(self.script_args.get("synthetic_per_scenario") or 0) > 0


def is_hub_id(name: str) -> bool:
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def is_local_model(name: str) -> bool:
    """Whether a model name is a folder on this machine (or a path that cannot be a Hub id)."""
    return Path(name).expanduser().is_dir() or not is_hub_id(name)


def public_config(value: Any, names: dict[str, str], key: str | None = None) -> Any:
    """``value`` (mappings, lists, scalars) with its local paths replaced: a path that ``names`` holds
    (resolved) by its public name, any other by its last component. Local paths are the values of
    ``LOCAL_PATH_KEYS``, local model folders under ``MODEL_PATH_KEYS``, and every absolute path."""
    if isinstance(value, dict):
        return {k: public_config(v, names, k) for k, v in value.items()}
    if isinstance(value, list):
        return [public_config(v, names, key) for v in value]
    if not isinstance(value, str) or not value:
        return value
    local = (
        key in LOCAL_PATH_KEYS
        or os.path.isabs(os.path.expanduser(value))
        or (key in MODEL_PATH_KEYS and is_local_model(value))
    )
    if not local:
        return value
    return names.get(str(Path(value).expanduser().resolve()), Path(value).name)


def read_training_run(adapter_dir: str | Path) -> TrainingRun:
    """Check ``adapter_dir`` holds a PEFT adapter and read its config, resolved config and metrics."""
    folder = Path(adapter_dir)
    if not folder.is_dir():
        raise ReleaseError(f"{folder}: no such adapter folder")
    missing = [name for name in ADAPTER_FILES if not (folder / name).is_file()]
    if missing:
        raise ReleaseError(
            f"{folder}: not a PEFT adapter folder (missing {', '.join(missing)}); release needs a LoRA run "
            "(use_peft: true)"
        )
    adapter_config = _read_json(folder / "adapter_config.json")
    config: dict[str, Any] = {}
    if (folder / RESOLVED_CONFIG).is_file():
        try:
            config = yaml.safe_load((folder / RESOLVED_CONFIG).read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            raise ReleaseError(f"{folder / RESOLVED_CONFIG}: invalid YAML: {err}") from None
        if not isinstance(config, dict):
            raise ReleaseError(f"{folder / RESOLVED_CONFIG}: expected a mapping")
    else:
        print(
            f"warning: {folder / RESOLVED_CONFIG} not found; the card will lack data and hyperparameters",
            file=sys.stderr,
        )
    results = _read_json(folder / TRAIN_RESULTS) if (folder / TRAIN_RESULTS).is_file() else {}
    return TrainingRun(folder, adapter_config, config, results)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ReleaseError(f"{path}:{err.lineno}: invalid JSON ({err.msg})") from None
    if not isinstance(value, dict):
        raise ReleaseError(f"{path}: expected a JSON object")
    return value


# --- evaluation runs ----------------------------------------------------------------------------------
@dataclass
class EvalRun:
    label: str
    folder: Path
    summary: dict[str, Any]
    page: str | None = None  # repo-relative path of its episodes page, once written


def read_eval_runs(run_dirs: list[str]) -> list[EvalRun]:
    """The ``summary.json`` of each eval run folder, labelled by folder name (parent/name if names clash)."""
    folders = [Path(d) for d in run_dirs]
    names = [f.name for f in folders]
    runs = []
    for folder, name in zip(folders, names, strict=True):
        try:
            summary = read_summary(folder)
        except (FileNotFoundError, ValueError) as err:
            raise ReleaseError(f"{err}; --eval takes a 'proactive eval' run folder") from None
        label = name if names.count(name) == 1 else f"{folder.parent.name}-{name}"
        runs.append(EvalRun(label, folder, summary))
    return runs


def copy_eval_run(run: EvalRun, out: Path, names: dict[str, str]) -> list[str]:
    """Write the run's summaries and plots into ``out/eval/<label>`` with its local paths made public
    (:func:`public_config`), and its episodes page; return the plots' repo-relative paths."""
    from eval.report import run_title, write_run_report
    from eval.view.episodes import ViewInputError, eval_page, read_eval_run
    from eval.view.page import write_page

    target = out / EVAL_DIR / run.label
    target.mkdir(parents=True, exist_ok=True)
    summary = public_config(run.summary, names)
    written = write_run_report(summary, target, run_title(summary.get("config", {})))
    if (run.folder / CONFIG_FILE).is_file():
        config = public_config(_read_json(run.folder / CONFIG_FILE), names)
        (target / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    if (run.folder / EPISODES_FILE).is_file():
        try:
            episodes = read_eval_run(run.folder, run.label)
        except ViewInputError as err:
            raise ReleaseError(str(err)) from None
        data = episodes.config.get("data")
        episodes.config = public_config(episodes.config, names)
        episodes.folder = Path(EVAL_DIR) / run.label
        page = eval_page([episodes], target / "episodes", data, data_label=episodes.config.get("data"))
        run.page = write_page(page, target / "episodes").relative_to(out).as_posix()
    return [path.relative_to(out).as_posix() for path in written if path.suffix == ".png"]


# --- the model card -------------------------------------------------------------------------------------
def card_data(
    run: TrainingRun, base_model: str, license_: str, evals: list[EvalRun], repo: str
) -> ModelCardData:
    """The card's metadata: base model, library, license, datasets, tags, and the eval results."""
    tags = ["proactive", "proactivebench", run.method, "lora", "peft", "trl", "vision-language"]
    if run.synthetic():
        tags.append("synthetic-data")
    return ModelCardData(
        base_model=base_model,
        library_name="peft",
        pipeline_tag="image-text-to-text",
        license=license_,
        datasets=[] if run.synthetic() else [OFFICIAL_DATASET],
        tags=[t for t in tags if t != "unknown"],
        model_name=repo,
        eval_results=[result for ev in evals for result in eval_results(ev, run.synthetic())] or None,
    )


def eval_results(run: EvalRun, trained_on_synthetic: bool) -> list[EvalResult]:
    """One Hub eval result per scenario and metric (acc, psr) of an eval run; the run's label stands in the
    dataset split, so that two runs on one scenario stay apart."""
    from eval.report import METRIC_LABELS, short

    folder = Path(run.summary.get("config", {}).get("data") or "")
    synthetic = is_synthetic(folder) if folder.is_dir() else trained_on_synthetic
    return [
        EvalResult(
            task_type="image-text-to-text",
            task_name="ProactiveBench multi-turn MCQA",
            dataset_type=SYNTHETIC_DATASET if synthetic else OFFICIAL_DATASET,
            dataset_name=f"{'synthetic ' if synthetic else ''}ProactiveBench {short(scenario)}",
            dataset_config=scenario,
            dataset_split=run.label,
            metric_type=metric,
            metric_name=METRIC_LABELS[metric],
            metric_value=block[metric],
        )
        for scenario, block in run.summary["scenarios"].items()
        for metric in CARD_METRICS
        if metric in block
    ]


def data_section(run: TrainingRun) -> list[str]:
    args = public_config(run.script_args, {})
    if not args:
        return ["## Training data", "", "Not recorded (the adapter folder has no resolved_config.yaml).", ""]
    kind = "synthetic ProactiveBench (procedural, offline)" if run.synthetic() else "ProactiveBench"
    data = public_config(run.config.get("data", {}), {})
    rows = [
        ["benchmark", f"{kind}: `{args.get('benchmark_dir')}`"],
        ["train scenarios", args.get("train_scenarios", [])],
        ["held-out scenarios (never trained on)", args.get("held_out_scenarios", [])],
        ["sample filter", f"{args.get('id_filter')} (threshold {args.get('filter_threshold')})"],
        [
            "episodes held out of the train scenarios",
            f"{args.get('eval_fraction')} (split seed {args.get('split_seed')})",
        ],
    ]
    rows += [[key.replace("_", " "), value] for key, value in data.items() if value is not None]
    if run.method == "sft":
        rows.append(["SFT rows", f"{args.get('sft_turns')} turns, answer format {args.get('answer_format')}"])
    return ["## Training data", "", *markdown_table(["", ""], rows), ""]


def reward_section(run: TrainingRun) -> list[str]:
    args = run.script_args
    if run.method != "grpo":
        return [
            "## Reward",
            "",
            "None: SFT imitates the oracle (ask while the view is uninformative, then answer).",
            "",
        ]
    preset, kwargs = args.get("reward_preset"), args.get("reward_kwargs") or {}
    lines = ["## Reward", "", f"Preset `{preset}`, overrides `{json.dumps(kwargs)}`.", ""]
    try:
        from dataclasses import asdict

        from reward import resolve_weights

        weights = asdict(resolve_weights(preset, **kwargs))
    except (ValueError, TypeError) as err:
        return [*lines, f"(weights not resolvable here: {err})", ""]
    return [
        *lines,
        "Reward of each case:",
        "",
        *markdown_table(["case", "reward"], [[k, v] for k, v in weights.items()]),
        "",
    ]


def hyperparameter_section(run: TrainingRun) -> list[str]:
    if not run.config:
        return []
    training, model = run.training_args, run.model_args
    distributed = run.config.get("distributed", {})
    rows = [[key, training[key]] for key in TRAINING_KEYS if key in training]
    rows += [[key, model[key]] for key in MODEL_KEYS if model.get(key) not in (None, False)]
    processes = distributed.get("num_processes") or 1
    per_device = training.get("per_device_train_batch_size")
    if per_device is not None:
        effective = per_device * training.get("gradient_accumulation_steps", 1) * processes
        rows.append(["effective batch (per device x accumulation x processes)", effective])
    rows += [[f"launch: {key}", value] for key, value in distributed.items() if value is not None]
    versions = run.config.get("versions", {})
    lines = ["## Hyperparameters", "", *markdown_table(["setting", "value"], rows), ""]
    if versions:
        lines += ["Packages: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".", ""]
    lines += [f"The full resolved configuration is in [`{RESOLVED_CONFIG}`]({RESOLVED_CONFIG}).", ""]
    if run.train_results:
        shown = ", ".join(
            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in run.train_results.items()
        )
        lines += [f"Training metrics: {shown}.", ""]
    return lines


def eval_table(runs: list[EvalRun], metric: str) -> list[str]:
    """One row per eval run: ``metric`` with its 95% CI per scenario and averaged."""
    from eval.report import AVERAGE, METRIC_LABELS, metric_cell, scenario_columns, short

    columns = [*scenario_columns([r.summary for r in runs]), AVERAGE]
    rows = [
        [
            r.label,
            *(
                metric_cell(r.summary["average"] if c == AVERAGE else r.summary["scenarios"].get(c), metric)
                for c in columns
            ),
        ]
        for r in runs
    ]
    header = ["run", *(short(c) if c != AVERAGE else "avg" for c in columns)]
    return [f"### {METRIC_LABELS.get(metric, metric)}", "", *markdown_table(header, rows), ""]


def eval_section(runs: list[EvalRun], plots: dict[str, list[str]]) -> list[str]:
    if not runs:
        return [
            "## Evaluation",
            "",
            "No evaluation run was attached (`proactive release --eval RUN_DIR`).",
            "",
        ]
    metrics = [m for m in ("acc", "psr", "reference_acc") if any(m in r.summary["average"] for r in runs)]
    lines = [
        "## Evaluation",
        "",
        "ProactiveBench MCQA episodes; 95% bootstrap confidence intervals in brackets.",
        "",
    ]
    for metric in metrics:
        lines += eval_table(runs, metric)
    for run in runs:
        config = run.summary.get("config", {})
        where = f" on `{Path(config['data']).name}`" if config.get("data") else ""
        lines += [
            f"### {run.label}",
            "",
            f"Episodes{where}; files in [`{EVAL_DIR}/{run.label}`]({EVAL_DIR}/{run.label})"
            + (f"; each episode turn by turn: [`{run.page}`]({run.page})." if run.page else "."),
            "",
        ]
        lines += [f"![{Path(p).stem}]({p})" for p in plots.get(run.label, [])] + [""]
    return lines


def usage_section(base_model: str, repo: str, merged: bool) -> list[str]:
    lines = [
        "## How to use",
        "",
        "```python",
        "from peft import PeftModel",
        "from transformers import AutoModelForImageTextToText, AutoProcessor",
        "",
        f'base = AutoModelForImageTextToText.from_pretrained("{base_model}")',
        f'model = PeftModel.from_pretrained(base, "{repo}")',
        f'processor = AutoProcessor.from_pretrained("{repo}")',
    ]
    if merged:
        lines += [
            "",
            "# or the merged full weights, no PEFT needed (from a local path: transformers would take the",
            "# root's adapter_config.json for the model's if given the repository and subfolder=)",
            "from huggingface_hub import snapshot_download",
            "",
            f'path = snapshot_download("{repo}", allow_patterns=["{MERGED_DIR}/*"])',
            f'model = AutoModelForImageTextToText.from_pretrained(f"{{path}}/{MERGED_DIR}")',
        ]
    lines += [
        "```",
        "",
        "Evaluate it on ProactiveBench with this repository's harness:",
        "",
        "```bash",
        f"proactive eval --model {base_model} --adapter {repo} --data ProactiveBench/test --out runs/adapter",
        "```",
        "",
    ]
    return lines


def model_card(
    run: TrainingRun,
    base_model: str,
    license_: str,
    evals: list[EvalRun],
    plots: dict[str, list[str]],
    repo: str,
    merged: bool,
) -> ModelCard:
    """README.md: the metadata (:func:`card_data`) and the sections describing data, reward,
    hyperparameters, eval and usage."""
    method = {"grpo": "GRPO", "sft": "SFT"}.get(run.method, "fine-tuning")
    intro = [
        f"# {Path(repo).name}: a proactive LoRA adapter for {base_model}",
        "",
        f"A LoRA adapter trained with {method} (TRL + PEFT) to be *proactive* on ProactiveBench: when the",
        "image does not allow an answer, the model asks for an intervention (move the occluder, rotate the",
        "object, wait or rewind the video, move the camera, ...) instead of guessing.",
        f"The adapter is derived from `{base_model}`; the base model's license applies.",
        "",
    ]
    if merged:
        intro += [f"`{MERGED_DIR}/` holds the same model with the adapter merged into full weights.", ""]
    sections = [
        intro,
        data_section(run),
        reward_section(run),
        hyperparameter_section(run),
        eval_section(evals, plots),
        usage_section(base_model, repo, merged),
    ]
    body = "\n".join(line for section in sections for line in section)
    data = card_data(run, base_model, license_, evals, repo)
    return ModelCard.from_template(data, template_str=CARD_TEMPLATE, body=body)


# --- writing the folder ---------------------------------------------------------------------------------
def prepare_out(out: Path, inputs: list[Path], force: bool) -> None:
    """Make ``out`` an empty folder marked as a release. Refused: an ``out`` that is, holds or lies inside
    one of ``inputs``, that cannot be written or is a link, or (with --force) a non-empty folder without the
    mark of an earlier release: --force replaces only what this command wrote."""
    target = out.resolve()
    for folder in inputs:
        source = folder.resolve()
        if target == source or target in source.parents or source in target.parents:
            where = "is" if target == source else "holds" if target in source.parents else "lies inside"
            raise ReleaseError(f"{out}: --out {where} the input folder {folder}; choose a folder outside it")
    try:
        check_output_folder(out)
    except OutputFolderError as err:
        raise ReleaseError(str(err)) from None
    if out.is_symlink():
        raise ReleaseError(f"{out}: is a link; choose another --out")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise ReleaseError(f"{out}: exists and is not empty; choose another --out or pass --force")
        if not (out / RELEASE_MARK).is_file():
            raise ReleaseError(
                f"{out}: not written by 'proactive release' (no {RELEASE_MARK}); --force replaces only such "
                "folders: choose another --out, or delete it yourself"
            )
        shutil.rmtree(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / RELEASE_MARK).write_text("written by proactive release\n", encoding="utf-8")
    except OSError as err:
        raise ReleaseError(f"{out}: cannot write the release folder ({err.strerror or err})") from None


def release_inputs(run: TrainingRun, evals: list[EvalRun]) -> list[Path]:
    """The folders a release reads: the adapter, the eval runs and the benchmarks their pages show."""
    folders = [run.adapter_dir, *(ev.folder for ev in evals)]
    data = [ev.summary.get("config", {}).get("data") for ev in evals]
    return folders + [Path(d) for d in data if d and Path(d).is_dir()]


def save_processor(run: TrainingRun, base_model: str, out: Path) -> None:
    """The processor saved with the adapter (the base model's when the adapter folder has none)."""
    from transformers import AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(run.adapter_dir)
    except (OSError, ValueError, KeyError):
        processor = AutoProcessor.from_pretrained(base_model)
    processor.save_pretrained(out)


def copy_training_files(run: TrainingRun, out: Path, base_model: str, names: dict[str, str]) -> None:
    """The adapter (its config naming the Hub base), the run's metrics, and its resolved config with the
    local paths made public (the adapter folder keeps the full one)."""
    shutil.copy2(run.adapter_dir / "adapter_model.safetensors", out / "adapter_model.safetensors")
    adapter_config = {**public_config(run.adapter_config, names), "base_model_name_or_path": base_model}
    (out / "adapter_config.json").write_text(json.dumps(adapter_config, indent=2, sort_keys=True) + "\n")
    if (run.adapter_dir / TRAIN_RESULTS).is_file():
        shutil.copy2(run.adapter_dir / TRAIN_RESULTS, out / TRAIN_RESULTS)
    if run.config:
        header = (
            "# The training run's resolved configuration. Local paths are shown by their last component and\n"
            "# the base model by its Hub id; the training output folder keeps the full file.\n"
        )
        body = yaml.safe_dump(public_config(run.config, names), sort_keys=False)
        (out / RESOLVED_CONFIG).write_text(header + body, encoding="utf-8")


def release(
    adapter_dir: str | Path,
    out: str | Path,
    *,
    eval_dirs: list[str] | None = None,
    merge: bool = False,
    base_model: str | None = None,
    license_: str = "other",
    repo_id: str | None = None,
    force: bool = False,
) -> Path:
    """Write the release folder ``out`` for the adapter in ``adapter_dir``; returns ``out``."""
    run = read_training_run(adapter_dir)
    base = run.hub_base_model(base_model)
    local_base = run.loadable_base(base)
    if not eval_dirs and (run.adapter_dir / EVAL_DIR / SUMMARY_FILE).is_file():
        eval_dirs = [str(run.adapter_dir / EVAL_DIR)]
    evals = read_eval_runs(eval_dirs or [])
    out = Path(out)
    repo = repo_id or out.name
    names = {str(Path(local_base).expanduser().resolve()): base, str(run.adapter_dir.resolve()): repo}
    prepare_out(out, release_inputs(run, evals), force)
    copy_training_files(run, out, base, names)
    save_processor(run, local_base, out)
    plots = {ev.label: copy_eval_run(ev, out, names) for ev in evals}
    if merge:
        merge_adapter(
            local_base, run.adapter_dir, out / MERGED_DIR, out, run.model_args.get("dtype") or "auto"
        )
    card = model_card(run, base, license_, evals, plots, repo, merge)
    card.save(out / "README.md")
    return out


def push(folder: Path, repo_id: str, private: bool = False) -> str:
    """Upload ``folder`` to the Hub model repository ``repo_id`` (created if needed); returns its URL."""
    from huggingface_hub import HfApi, constants

    if constants.HF_HUB_OFFLINE:
        raise PushError("HF_HUB_OFFLINE is set, so huggingface_hub will not reach the Hub")
    api = HfApi()
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True)
        api.upload_folder(
            repo_id=repo_id,
            folder_path=folder,
            commit_message="proactive release",
            ignore_patterns=[RELEASE_MARK],
        )
    except Exception as err:  # any network, auth or server failure becomes one line for the user
        reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise PushError(f"{type(err).__name__}: {reason}") from None
    return str(url)


def build_parser() -> argparse.ArgumentParser:
    parser = command_parser("proactive release", __doc__)
    parser.add_argument("adapter_dir", help="a recipe's output_dir holding a LoRA adapter")
    parser.add_argument("--out", required=True, action=OutputFolder, help="release folder to write")
    parser.add_argument(
        "--merge", action="store_true", help=f"also write merged full weights to OUT/{MERGED_DIR}"
    )
    parser.add_argument(
        "--eval", nargs="+", default=[], metavar="RUN_DIR", help="'proactive eval' run folders"
    )
    parser.add_argument("--push", metavar="REPO_ID", help="upload the folder to this Hub model repository")
    parser.add_argument("--private", action="store_true", help="with --push: create the repository private")
    parser.add_argument(
        "--base-model",
        metavar="HUB_ID",
        help="the base model's Hub id, for the card and adapter_config.json (default: the adapter's; required "
        "when that is a local folder)",
    )
    parser.add_argument(
        "--license", default="other", help="license in the card's front matter (default: other)"
    )
    parser.add_argument(
        "--force", action="store_true", help="replace an --out folder an earlier 'proactive release' wrote"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        out = release(
            args.adapter_dir,
            args.out,
            eval_dirs=args.eval,
            merge=args.merge,
            base_model=args.base_model,
            license_=args.license,
            repo_id=args.push,
            force=args.force,
        )
    except ReleaseError as err:
        print(f"proactive release: {err}", file=sys.stderr)
        return 2
    print(
        f"{out}: release folder written" + (f" (merged weights in {out / MERGED_DIR})" if args.merge else "")
    )
    if args.push:
        try:
            url = push(out, args.push, args.private)
        except PushError as err:
            print(
                f"proactive release: could not push {out} to {args.push} ({err}); the folder is complete, "
                f"upload it later with: hf upload {args.push} {out}",
                file=sys.stderr,
            )
            return PUSH_FAILED
        print(f"pushed to {url}")
    return 0
