"""``lingalign models``: prepare a model once (convert the default GGUF into the cache) or show its facts.

  lingalign models prepare [MODEL]     resolve (and convert) MODEL, print the folder it loads from
  lingalign models info [MODEL]        the same, then parameters, layers, vocabulary and special tokens
"""

from __future__ import annotations

import argparse

from lingalign.models.load import load_model, load_tokenizer
from lingalign.models.resolve import DEFAULT_MODEL, resolve_model


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["prepare", "info"],
                        help="prepare: convert/cache a model; info: show its facts")
    parser.add_argument("model", nargs="?", default=DEFAULT_MODEL,
                        help=f"model folder, .gguf, hub id (default: {DEFAULT_MODEL})")


def main(args: argparse.Namespace) -> int:
    path = resolve_model(args.model)
    print(path)
    if args.action == "info":
        tokenizer = load_tokenizer(path)
        model = load_model(path)
        n = sum(p.numel() for p in model.parameters())
        print(f"parameters: {n / 1e6:.1f}M  layers: {model.config.num_hidden_layers}  vocab: {len(tokenizer)}")
        print(f"eos: {tokenizer.eos_token!r}  pad: {tokenizer.pad_token!r}  "
              f"chat template: {bool(tokenizer.chat_template)}")
    return 0
