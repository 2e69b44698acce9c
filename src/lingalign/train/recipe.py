"""The training recipe: one typed schema for the ``train:`` section of a YAML file.

Every knob a run depends on lives here, is range-checked by pydantic, and is saved resolved
(``hyperparameters.yaml``) beside the trained model.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from lingalign.config import Strict
from lingalign.models import DEFAULT_MODEL
from lingalign.prompting import PromptFormat

# Every linear projection of a LLaMA-style attention block and MLP.
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

Scheduler = Literal["linear", "cosine", "cosine_with_min_lr", "constant", "constant_with_warmup", "polynomial"]


class LoraConfig(Strict):
    """Low-rank adapters (peft): only ``r * (d_in + d_out)`` parameters per target are trained."""

    r: int = Field(16, ge=1, le=1024)
    alpha: float = Field(32, gt=0)
    dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: list[str] = Field(default_factory=lambda: list(ALL_LINEAR), min_length=1)
    merge: bool = True  # write a standalone merged model (adapter kept in OUT/adapter/)


class DpoConfig(Strict):
    """Direct preference optimisation (Rafailov et al., 2023) on ``{prompt, chosen, rejected}`` pairs.

    The loss is TRL's (``lingalign.train.dpo_loss``); these are the knobs a DPO run depends on.
    """

    # How strongly the policy is held to the reference: the implicit reward is beta * log(pi / pi_ref).
    # Larger beta keeps the model closer to the reference; TRL's default and the DPO paper's is 0.1.
    beta: float = Field(0.1, gt=0, le=100)
    tune: Literal["full", "lora"] = "full"  # lora: adapters from the `lora:` section; the reference is adapter-off
    # The frozen reference: null = the starting model (`model`); with tune: lora that needs no second copy.
    reference_model: str | None = None
    # TRL's loss_type: sigmoid = DPO, hinge = SLiC, ipo = IPO. Only losses of one pair at a time, so that
    # a step's loss is the same whatever its split into micro-batches and processes.
    loss_type: Literal["sigmoid", "hinge", "ipo"] = "sigmoid"


class TrainConfig(Strict):
    """What to train, on what, and how."""

    model: str = DEFAULT_MODEL
    trust_remote_code: bool = False
    prompt_format: PromptFormat = "alpaca"  # alpaca-pivot: answers through English (docs/data.md, pivot)
    method: Literal["full", "lora", "dpo"] = "full"
    lora: LoraConfig = Field(default_factory=LoraConfig)
    # Only with method: dpo (filled with the defaults then). Left out of the resolved config when
    # unset, so supervised recipes keep their fingerprints.
    dpo: DpoConfig | None = Field(None, exclude_if=lambda v: v is None)

    max_length: int = Field(512, ge=16, le=131072)
    overlength: Literal["drop", "truncate"] = "drop"
    packing: bool = True
    micro_batch_size: int = Field(1, ge=1, le=4096)
    gradient_accumulation_steps: int = Field(1, ge=1, le=65536)

    epochs: int = Field(1, ge=1, le=1000)
    max_steps: int | None = Field(None, ge=1)
    learning_rate: float = Field(2e-5, gt=0, le=1)
    weight_decay: float = Field(0.0, ge=0, le=1)
    adam_betas: tuple[float, float] = (0.9, 0.999)
    # One kernel for the whole AdamW update instead of torch's CPU default, a Python loop over the
    # parameter tensors: 1.4-1.8x faster per optimizer step for the default model on this project's
    # CPUs (bench/optimizer_step.py; docs/train.md), the same weights up to about 1 ULP. On by default
    # (issue 26), so a recipe that does not set it lists `fused_adamw: true` in its resolved config and
    # fingerprint. `false` (the loop) is left out of the resolved config: the recipes that pin it
    # (quickstart, the study) keep the fingerprints and weights they were published with.
    fused_adamw: bool = Field(True, exclude_if=lambda v: v is False)
    lr_scheduler: Scheduler = "cosine"
    warmup_ratio: float = Field(0.03, ge=0, le=1)
    max_grad_norm: float | None = Field(1.0, gt=0)

    precision: Literal["auto", "fp32", "bf16"] = "auto"
    gradient_checkpointing: bool = False
    seed: int = 42

    # Experiment trackers that also get each logged step (loss, lr, tokens/s, grad norm; DPO's rewards):
    # tensorboard, wandb, mlflow (lingalign.train.trackers). Not part of the run's identity; left out of
    # the resolved config when unset. `logging_dir`: where their files go (default OUT.work/runs, kept in OUT/runs).
    report_to: list[Literal["tensorboard", "wandb", "mlflow"]] | None = Field(None, exclude_if=lambda v: v is None)
    logging_dir: str | None = Field(None, exclude_if=lambda v: v is None)

    checkpoint_every: int = Field(0, ge=0)  # optimizer steps between checkpoints; 0 = none
    keep_checkpoints: int = Field(2, ge=1)
    log_every: int = Field(1, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _dpo_defaults(cls, data):
        """``method: dpo`` without a ``dpo:`` section means the defaults (recorded in full with the run)."""
        if isinstance(data, dict) and data.get("method") == "dpo" and data.get("dpo") is None:
            data = {**data, "dpo": {}}
        return data

    @field_validator("report_to", mode="before")
    @classmethod
    def _one_tracker_or_none(cls, value):
        """``report_to: tensorboard`` is a list of one; ``none`` or ``[]`` is no tracker (as in transformers)."""
        if isinstance(value, str):
            value = [] if value.lower() == "none" else [value]
        if isinstance(value, list):
            value = list(dict.fromkeys(value)) or None
        return value

    @model_validator(mode="after")
    def _dpo_only_for_dpo(self):
        if self.dpo is not None and self.method != "dpo":
            raise ValueError(f"a dpo: section needs method: dpo (method is {self.method!r})")
        return self

    @property
    def tuning(self) -> str:
        """Which weights train: ``full`` or ``lora`` (for DPO, ``dpo.tune``)."""
        if self.method == "dpo":
            return (self.dpo or DpoConfig()).tune
        return self.method

    def with_dpo_defaults(self) -> TrainConfig:
        """The same config with the ``dpo`` section filled in for DPO (``model_copy`` skips the validators)."""
        if self.method == "dpo" and self.dpo is None:
            return self.model_copy(update={"dpo": DpoConfig()})
        return self


# Keys that change neither the weights nor the data order; a resume may change them freely.
NON_RESULT_KEYS = ("checkpoint_every", "keep_checkpoints", "log_every", "report_to", "logging_dir")
