#!/usr/bin/env python3
"""Loads a seed policy exported by `grpo export --format safetensors` into plain PyTorch and prints its logits.

Reads the file with only json, struct and torch.frombuffer (no `safetensors` package): an unsigned little-endian u64
header length N, N bytes of JSON header ({name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {}}),
then the data section the offsets point into. The tensors keep the checkpoint's names, so they load into a module
with the same fields through load_state_dict(strict=True).

Usage: load_seed_policy.py MODEL.safetensors [--prompts '[[1, 0, 2], [3, 2, 4]]']
Prints {"metadata": {...}, "prompts": [...], "logits": [B][R][V]} as JSON.
"""
import argparse
import json
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "I32": torch.int32}


def load_safetensors(path):
    """Returns ({name: tensor}, metadata) from a safetensors file."""
    if sys.byteorder != "little":
        sys.exit("torch.frombuffer reads native byte order and safetensors data is little-endian: run this on a little-endian host")
    with open(path, "rb") as f:
        blob = f.read()
    (header_length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + header_length])
    metadata = header.pop("__metadata__", {})
    data = bytearray(blob[8 + header_length:])   # writable, so torch.frombuffer does not warn
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        dtype = DTYPES[entry["dtype"]]
        count = (end - begin) // torch.tensor([], dtype=dtype).element_size()
        tensors[name] = torch.frombuffer(data, dtype=dtype, count=count, offset=begin).reshape(entry["shape"]).clone()
    return tensors, metadata


class SeedPolicy(torch.nn.Module):
    """The lecture's model, as src/GrpoPipeline.Training/SeedPolicy.cs computes it; field names are the tensor names."""

    def __init__(self, vocab, dim, prompt_length, response_length):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, dim)                            # embedding.weight [V, D]
        self.encode_weights = torch.nn.Parameter(torch.empty(prompt_length, dim, dim))    # [L, D, D]
        self.decode_weights = torch.nn.Parameter(torch.empty(response_length, dim, dim))  # [R, D, D]

    def forward(self, prompts):                                                      # [B, L] -> [B, R, V]
        embedded = self.embedding(prompts)                                           # [B, L, D]
        encoded = torch.einsum("bld,lde->be", embedded, self.encode_weights)         # sum over positions of emb . enc[l]
        decoded = torch.einsum("be,ref->brf", encoded, self.decode_weights)          # encoded . dec[r]
        return decoded @ self.embedding.weight.T                                     # tied embedding


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--prompts", default="[[1, 0, 2], [3, 2, 4], [1, 2, 3]]")
    args = parser.parse_args()

    tensors, metadata = load_safetensors(args.model)
    if metadata.get("grpo.policy") != "seed":
        sys.exit(f"{args.model} holds a {metadata.get('grpo.policy')!r} policy; this script rebuilds the seed policy only")
    vocab, dim = tensors["embedding.weight"].shape
    model = SeedPolicy(vocab, dim, tensors["encode_weights"].shape[0], tensors["decode_weights"].shape[0])
    model.load_state_dict(tensors, strict=True)
    model.eval()

    prompts = torch.tensor(json.loads(args.prompts), dtype=torch.int64)
    with torch.no_grad():
        logits = model(prompts)
    json.dump({"metadata": metadata, "prompts": prompts.tolist(), "logits": logits.tolist()}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
