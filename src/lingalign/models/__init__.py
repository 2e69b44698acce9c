"""Models and tokenizers: resolve what a user wrote (an alias, a folder, a ``.gguf``, a hub id, a LoRA
adapter) to a folder, and load it.

``resolve`` turns names into folders (converting the default GGUF model once); ``load`` loads
models and tokenizers; ``command`` is the ``lingalign models`` verb. The names below are the
package's public API.
"""

from lingalign.models.load import DTYPES, load_model, load_tokenizer, torch_dtype
from lingalign.models.resolve import (
    DEFAULT_MODEL,
    adapter_base,
    cache_dir,
    convert_gguf,
    default_gguf_file,
    is_adapter,
    is_alias,
    is_hub_id,
    resolve_model,
)

__all__ = ["DEFAULT_MODEL", "DTYPES", "adapter_base", "cache_dir", "convert_gguf", "default_gguf_file", "is_adapter",
           "is_alias", "is_hub_id", "load_model", "load_tokenizer", "resolve_model", "torch_dtype"]
