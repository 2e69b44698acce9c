"""Training stage: supervised fine-tuning (full or LoRA) with exact loss masking, packing without
cross-contamination, token-normalised gradient accumulation, atomic checkpoints and resume; and
preference tuning (``method: dpo``, TRL's loss) in the same loop.

Python API: ``train(config, data_dir, out_dir, resume=False) -> Path``.
"""

from lingalign.train.recipe import TrainConfig
from lingalign.train.stage import train

__all__ = ["TrainConfig", "train"]
