"""The paper's published numbers (``paper_numbers.json``) and which of them belong beside a run."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any


@lru_cache(maxsize=1)
def paper_numbers() -> dict[str, Any]:
    """Table 1 (per-model averages), the per-scenario model average and Table 3 (GRPO), as stored."""
    return json.loads(resources.files("eval").joinpath("paper_numbers.json").read_text(encoding="utf-8"))


def _key(name: str) -> str:
    return name.strip().rstrip("/").lower()


def paper_model(model_id: str | None) -> str | None:
    """The paper's name for ``model_id`` (a hub id such as ``Qwen/Qwen2.5-VL-3B-Instruct``, or the paper's
    own name), or None when the paper did not evaluate it. Local folders match by their hub-id suffix."""
    if not model_id:
        return None
    wanted = _key(model_id)
    for name, entry in paper_numbers()["table1"].items():
        names = [_key(name), *(_key(a) for a in entry["aliases"])]
        if wanted in names or any(wanted.endswith("/" + n.split("/")[-1]) for n in names if "/" in n):
            return name
    return None


def paper_rows(model_id: str | None, adapter: bool = False) -> dict[str, dict[str, Any]]:
    """Summary-shaped rows of published numbers for a run of ``model_id``: the Table 3 per-scenario rows
    (original; with an adapter also the GRPO rows) where the paper trained that model, else its Table 1
    average. Empty when the paper did not evaluate the model."""
    name = paper_model(model_id)
    if name is None:
        return {}
    numbers = paper_numbers()
    trained = numbers["table3"].get(name)
    if trained is None:
        entry = numbers["table1"][name]
        return {
            f"paper {name} (Table 1)": {
                "scenarios": {},
                "average": {"acc": entry["acc"], "psr": entry["psr"]},
            }
        }
    original = _with_reference(trained["original"], trained.get("reference image"))
    rows = {f"paper {name} original (Table 3)": original}
    if adapter:
        for label, row in trained.items():
            if label.startswith("GRPO"):
                rows[f"paper {name} {label} (Table 3)"] = row
    return rows


def _with_reference(row: dict[str, Any], reference: dict[str, Any] | None) -> dict[str, Any]:
    if reference is None:
        return row
    scenarios = {
        name: {**cells, **reference["scenarios"].get(name, {})} for name, cells in row["scenarios"].items()
    }
    return {"scenarios": scenarios, "average": {**row["average"], **reference["average"]}}
