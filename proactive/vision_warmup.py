"""The vision warm-up of the tiny base: train its vision tower to classify what a view shows, before the
full-weight SFT (as a real MLLM starts from a pretrained vision encoder).

A linear head over the merged image tokens of the tower (Qwen2-VL style: ``model.model.visual`` with
``grid_thw``) predicts the answer category of every answered pretraining row; views are resized to the
model's square image size so that every view gives the same number of tokens. The head is dropped
afterwards; the tower's weights stay in the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from datasets import ClassLabel, Dataset, Features, Image
from torch import nn
from transformers import PreTrainedModel, Trainer, TrainingArguments

ANSWERED_KINDS = ("answer", "reference")


class ViewClassifier(nn.Module):
    """A vision tower with a linear head over its merged image tokens."""

    def __init__(self, visual: nn.Module, tokens: int, width: int, classes: int) -> None:
        super().__init__()
        self.visual = visual
        self.tokens = tokens
        self.head = nn.Linear(tokens * width, classes)

    def forward(
        self, pixel_values: torch.Tensor, image_grid_thw: torch.Tensor, labels: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor | None]:
        merged = self.visual(pixel_values, grid_thw=image_grid_thw).pooler_output
        logits = self.head(merged.reshape(image_grid_thw.shape[0], -1))
        loss = None if labels is None else nn.functional.cross_entropy(logits, labels)
        return {"loss": loss, "logits": logits}


@dataclass
class ViewCollator:
    """Square-resized views through the image processor, with their class ids."""

    image_processor: Any
    side: int

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        images = [row["image"].convert("RGB").resize((self.side, self.side)) for row in rows]
        batch = self.image_processor(images=images, return_tensors="pt")
        return {
            "pixel_values": batch["pixel_values"],
            "image_grid_thw": batch["image_grid_thw"],
            "labels": torch.tensor([row["label"] for row in rows]),
        }


def view_dataset(rows: list[dict[str, Any]]) -> Dataset:
    """The answered rows' views labelled with their answer (one class per distinct answer text)."""
    answered = [row for row in rows if row["kind"] in ANSWERED_KINDS]
    names = sorted({row["completion"][0]["content"][0]["text"] for row in answered})
    features = Features({"image": Image(), "label": ClassLabel(names=names)})
    return Dataset.from_list(
        [{"image": row["image"], "label": row["completion"][0]["content"][0]["text"]} for row in answered],
        features=features,
    )


def warm_up_vision(
    model: PreTrainedModel,
    image_processor: Any,
    side: int,
    dataset: Dataset,
    *,
    steps: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    work_dir: Path,
) -> dict[str, Any]:
    """Train ``model``'s vision tower (in place) to classify ``dataset``'s views; returns the run's figures."""
    visual = getattr(getattr(model, "model", None), "visual", None)
    if visual is None:
        raise ValueError(f"{type(model).__name__}: the vision warm-up needs a Qwen2-VL-style model.visual")
    tokens = (side // (image_processor.patch_size * image_processor.merge_size)) ** 2
    classifier = ViewClassifier(
        visual, tokens, model.config.get_text_config().hidden_size, len(dataset.features["label"].names)
    )
    args = TrainingArguments(
        output_dir=str(work_dir),
        use_cpu=True,
        seed=seed,
        max_steps=steps,
        per_device_train_batch_size=batch_size,
        learning_rate=learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=max(1, steps // 20),
        weight_decay=0.0,
        logging_steps=max(1, steps // 10),
        save_strategy="no",
        report_to="none",
        remove_unused_columns=False,
        dataloader_num_workers=0,
    )
    trainer = Trainer(
        model=classifier, args=args, train_dataset=dataset, data_collator=ViewCollator(image_processor, side)
    )
    result = trainer.train()
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    return {
        "vision_runtime_s": round(result.metrics["train_runtime"], 1),
        "vision_rows": len(dataset),
        "vision_classes": len(dataset.features["label"].names),
        "vision_final_loss": round(losses[-1], 4) if losses else None,
    }
