"""The GRPO recipe's hook that saves the prompt images of the completions TRL logs (for ``proactive view``)."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

from PIL import Image
from transformers import TrainerCallback

from eval.view.page import save_thumbnail
from proactive.view.samples import IMAGES_DIR, images_index_path

IMAGE_SIDE = 384  # saved prompt images are at most this many pixels on a side (JPEG, quality 90)


class CompletionImages(TrainerCallback):
    """Saves the prompt images of the completions a GRPOTrainer logs (``log_completions``), which TRL
    writes to its parquet files without the images. Add it with ``trainer.add_callback(CompletionImages(trainer))``.
    """

    def __init__(self, trainer: Any, side: int = IMAGE_SIDE) -> None:
        self.trainer = trainer
        self.side = side

    def on_log(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not (getattr(args, "log_completions", False) and state.is_world_process_zero):
            return
        logs = self.trainer._logs  # trl 1.16: the buffers TRL builds its completions table from
        prompts, images = list(logs["prompt"]), list(logs["images"])
        if not images:  # log_multimodal off, or a text-only dataset
            return
        if len(images) != len(prompts):
            warnings.warn(
                f"step {state.global_step}: {len(images)} image lists for {len(prompts)} logged completions; "
                "their images are not saved",
                stacklevel=2,
            )
            return
        folder = Path(args.output_dir) / IMAGES_DIR
        folder.mkdir(parents=True, exist_ok=True)
        saved: dict[int, str] = {}
        names = [[self._save(image, folder, saved) for image in (row or [])] for row in images]
        images_index_path(args.output_dir, state.global_step).write_text(json.dumps(names), encoding="utf-8")

    def _save(self, image: Image.Image, folder: Path, saved: dict[int, str]) -> str:
        """Write ``image`` once (named by its pixels) and return its file name."""
        if id(image) not in saved:
            digest = hashlib.sha1(f"{image.mode}{image.size}".encode() + image.tobytes()).hexdigest()[:20]
            name = f"{digest}.jpg"
            if not (folder / name).is_file():
                save_thumbnail(image, folder / name, self.side, quality=90)
            saved[id(image)] = name
        return saved[id(image)]
