"""The ``Accelerator`` a training process runs under, and the attention kernel it trains with.

On GPUs this is plain ``accelerate``: the launcher's environment says DDP, FSDP or DeepSpeed and
``Accelerator()`` sets it up. On a machine without GPUs accelerate (1.16) gets two of the three
wrong, silently, and these are the fixes (so that the same launch commands can be checked on CPUs,
as the tests do):

* **FSDP**: with ``cpu=True`` accelerate builds a gloo group but only turns a FSDP launch into FSDP
  for GPU-like devices (``AcceleratorState``), so an FSDP config quietly trains as plain DDP:
  full replicas, one ``model.safetensors`` per checkpoint. torch's FSDP2 (``fully_shard``) itself
  runs on CPUs with gloo, so when the launcher asked for FSDP2 we switch the state to FSDP and let
  accelerate's own FSDP2 preparation, sharded checkpoints and state-dict gathering run. FSDP1
  cannot be checked this way: accelerate refuses ``sync_module_states`` (which
  ``fsdp_cpu_ram_efficient_loading`` forces) on CPUs, hence ``fsdp_version: 2`` in
  ``recipes/accelerate/fsdp.yaml``.
* **DeepSpeed**: ``cpu=True`` turns DeepSpeed off (a plain DDP run again), while ``cpu=False``
  without a GPU leaves accelerate without a backend, so every process believes it is rank 0 of 1
  (both write checkpoints; the logged loss doubles). Naming the gloo backend fixes the ranks.
"""

from __future__ import annotations

import importlib.util
import os

from lingalign.errors import UserError
from lingalign.runtime import has_accelerator


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "false").lower() == "true"


def make_accelerator(log_with: list | None = None):
    """``Accelerator()`` for this process: DDP, FSDP or DeepSpeed as launched, on GPUs or CPUs;
    ``log_with``: experiment trackers (``lingalign.train.trackers``)."""
    from accelerate import Accelerator
    from accelerate.utils import InitProcessGroupKwargs

    gpu = has_accelerator()
    if _env_flag("ACCELERATE_USE_DEEPSPEED") and not gpu:
        return Accelerator(kwargs_handlers=[InitProcessGroupKwargs(backend="gloo")], log_with=log_with or None)
    try:
        # cpu=True lets torchrun on CPUs form a gloo group
        accelerator = Accelerator(cpu=not gpu, log_with=log_with or None)
    except RuntimeError as exc:
        if "not supported on cpu" in str(exc):
            raise UserError(f"accelerate: {exc}", hint="on CPUs use FSDP2: fsdp_version: 2, as in "
                            "recipes/accelerate/fsdp.yaml") from None
        raise
    if _env_flag("ACCELERATE_USE_FSDP") and not gpu:
        _fsdp_on_cpu(accelerator)
    return accelerator


def _fsdp_on_cpu(accelerator) -> None:
    """Make a CPU process group run the FSDP launch it was given (see the module docstring)."""
    from accelerate.state import PartialState
    from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin

    if accelerator.distributed_type != DistributedType.MULTI_CPU:
        return  # one process: nothing to shard
    plugin = FullyShardedDataParallelPlugin()  # reads the FSDP_* settings the launcher exported
    if plugin.fsdp_version != 2:
        raise UserError("FSDP on CPUs needs fsdp_version: 2 in the accelerate config (accelerate runs FSDP1 only "
                        "on GPUs)", hint="recipes/accelerate/fsdp.yaml uses FSDP2")
    accelerator.state.fsdp_plugin = plugin
    accelerator.state.distributed_type = DistributedType.FSDP
    PartialState._shared_state["distributed_type"] = DistributedType.FSDP
    if not accelerator.is_fsdp2:  # an accelerate whose state no longer works this way: fail, do not train DDP
        raise UserError("this accelerate version cannot run FSDP on CPUs; run the FSDP config on GPUs")


def attention_kernel(device_type: str, precision: str) -> str:
    """``flash_attention_2`` on CUDA in bf16 when the flash-attn package is installed, else ``sdpa``.

    Both read packed rows from restarting position ids: flash-attention through its
    variable-length kernel (no padding, no mask), SDPA through a block-diagonal mask that
    transformers builds. flash-attn needs 16-bit activations, hence bf16 only.
    """
    if device_type == "cuda" and precision == "bf16" and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def drop_tied_copies(state: dict, module) -> dict:
    """Keep one entry per parameter that ``module`` shares under several names (tied embeddings).

    A gathered FSDP state dict holds separate tensors under both tied names, so ``save_pretrained``
    (which recognises ties by shared storage) would write both, and loading would untie them.
    """
    first: dict[int, str] = {}
    dropped = set()
    for name, param in module.named_parameters(remove_duplicate=False):
        if id(param) in first:
            dropped.add(name)
        else:
            first[id(param)] = name
    return {k: v for k, v in state.items() if k not in dropped}
