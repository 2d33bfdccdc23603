#!/usr/bin/env python3
"""PyTorch baseline for `grpo bench train`: the same GRPO epoch on the same configs, written the way a PyTorch
user would write it (the lecture's einsum model, log-probs gathered from the expanded logits, rewards in Python).

Prints one JSON line per config with the keys `grpo bench train` prints. Figures only; it judges nothing.
For `seed` and `scale` each epoch does what GrpoTrainer.RunEpoch does: sample a batch of prompts, G responses per
prompt under no-grad, log pi_old and log pi_ref once per rollout, inclusion+ordering rewards, centered deltas, then mu
Adam steps on the clipped surrogate + beta * k3 KL, with the entropy, the clip fractions and the grad norm measured as
the trainer does. `decoder` (decoder.py) is GRPO with an autoregressive nanoGPT-style decoder on variable-length
sorting, measured twice: nanoGPT's whole-prefix `generate`, then with a KV cache.
Before the figures it prints to stderr what it runs on (runtime_info.py): BLAS library, threads, matmul GFLOP/s.
"""
import argparse
import copy
import json
import sys
import time

import torch
import torch.nn.functional as F

import decoder
import decoder_checks
import runtime_info


class SeedPolicy(torch.nn.Module):
    """Embedding(V, D); encode [L, D, D] and decode [R, D, D] initialised randn / sqrt(D); tied output embedding."""

    def __init__(self, vocab, dim, length):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, dim)
        self.encode_weights = torch.nn.Parameter(torch.randn(length, dim, dim) / dim ** 0.5)
        self.decode_weights = torch.nn.Parameter(torch.randn(length, dim, dim) / dim ** 0.5)

    def forward(self, prompts):                                                # [B, L] -> [B, R, V]
        embedded = self.embedding(prompts)                                     # [B, L, D]
        encoded = torch.einsum("bld,lde->be", embedded, self.encode_weights)   # [B, D]
        decoded = torch.einsum("bd,rde->bre", encoded, self.decode_weights)    # [B, R, D]
        return decoded @ self.embedding.weight.T


def inclusion_ordering(prompt, response):
    """+1 per prompt token found in the response, +1 per adjacent pair in order (the lecture's reward)."""
    included = sum(1 for token in prompt if token in response)
    ordered = sum(1 for a, b in zip(response, response[1:]) if a <= b)
    return included + ordered


CONFIGS = {
    # 3 fixed prompts, G=10, mu=10, clipped (eps 0.1), k3 with beta=0.01, refPeriod=10, D=10, lr=1e-3.
    "seed": dict(prompts=[[1, 0, 2], [3, 2, 4], [1, 2, 3]], batch=3, length=3, vocab=5, group=10, dim=10),
    # The same with random prompts B=256, G=16, L=8, V=16, D=32.
    "scale": dict(prompts=None, batch=256, length=8, vocab=16, group=16, dim=32),
}
INNER_STEPS, CLIP, KL_COEF, REF_PERIOD, LEARNING_RATE = 10, 0.1, 0.01, 10, 1e-3


class Trainer:
    def __init__(self, config, seed):
        torch.manual_seed(seed)
        self.config = config
        self.policy = SeedPolicy(config["vocab"], config["dim"], config["length"])
        self.reference = None
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=LEARNING_RATE)
        self.fixed = torch.tensor(config["prompts"]) if config["prompts"] else None
        self.epoch = 0

    def sample_prompts(self):
        c = self.config
        return self.fixed if self.fixed is not None else torch.randint(0, c["vocab"], (c["batch"], c["length"]))

    def log_probs(self, model, prompts, responses):                            # -> [B, G, L]
        log_probs = F.log_softmax(model(prompts), dim=-1)                      # [B, L, V]
        batch, group, length = responses.shape
        expanded = log_probs.unsqueeze(1).expand(batch, group, length, log_probs.shape[-1])
        return expanded.gather(-1, responses.unsqueeze(-1)).squeeze(-1), log_probs

    def run_epoch(self):
        c = self.config
        if self.epoch % REF_PERIOD == 0:
            self.reference = copy.deepcopy(self.policy).requires_grad_(False)

        # Rollout: G responses per prompt, log pi_old and log pi_ref under no-grad.
        prompts = self.sample_prompts()
        batch, length, vocab, group = prompts.shape[0], c["length"], c["vocab"], c["group"]
        with torch.no_grad():
            probs = F.softmax(self.policy(prompts), dim=-1)                    # [B, L, V]
            responses = torch.multinomial(probs.reshape(-1, vocab), group, replacement=True)
            responses = responses.reshape(batch, length, group).permute(0, 2, 1).contiguous()   # [B, G, L]
            logp_old, old_distribution = self.log_probs(self.policy, prompts, responses)
            entropy = -(old_distribution.exp() * old_distribution).sum(-1).mean().item()
            logp_ref, _ = self.log_probs(self.reference, prompts, responses)

        # Score and centre within each group.
        prompt_lists, response_lists = prompts.tolist(), responses.tolist()
        rewards = torch.tensor([[inclusion_ordering(prompt_lists[b], response_lists[b][g]) for g in range(group)]
                                for b in range(batch)], dtype=torch.float32)   # [B, G]
        deltas = (rewards - rewards.mean(dim=1, keepdim=True)).unsqueeze(-1)   # [B, G, 1]

        # mu optimizer steps on the same rollout.
        for step in range(INNER_STEPS):
            logp, _ = self.log_probs(self.policy, prompts, responses)
            ratio = torch.exp(logp - logp_old)
            surrogate = torch.minimum(ratio * deltas, torch.clamp(ratio, 1 - CLIP, 1 + CLIP) * deltas)
            policy_loss = -surrogate.sum(-1).mean()
            log_ref_ratio = logp_ref - logp
            kl = (torch.exp(log_ref_ratio) - log_ref_ratio - 1).sum(-1).mean()
            loss = policy_loss + KL_COEF * kl
            self.optimizer.zero_grad()
            loss.backward()
            if step == INNER_STEPS - 1:
                with torch.no_grad():
                    clip_low = (ratio < 1 - CLIP).float().mean().item()
                    clip_high = (ratio > 1 + CLIP).float().mean().item()
                torch.nn.utils.clip_grad_norm_(self.policy.parameters(), 1e30).item()
            self.optimizer.step()
        self.epoch += 1
        return rewards.mean().item(), entropy, clip_low, clip_high


def timed(run_epoch, warmup, seconds):
    """Runs warmup epochs, then epochs for `seconds`; returns (epochs, elapsed seconds, per-epoch results)."""
    for _ in range(warmup):
        run_epoch()
    epochs, results, start = 0, [], time.perf_counter()
    while time.perf_counter() - start < seconds:
        results.append(run_epoch())
        epochs += 1
    return epochs, time.perf_counter() - start, results


def measure(name, warmup, seconds, seed):
    config = CONFIGS[name]
    trainer = Trainer(config, seed)
    epochs, elapsed, _ = timed(trainer.run_epoch, warmup, seconds)
    return {
        "config": name,
        "epochs": epochs,
        "epochsPerSecond": round(epochs / elapsed, 2),
        "samplesPerSecond": round(epochs * config["batch"] * config["group"] / elapsed),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }


def measure_decoder(kv_cache, warmup, seconds, seed):
    trainer = decoder.DecoderTrainer(seed, kv_cache)
    epochs, elapsed, results = timed(trainer.run_epoch, warmup, seconds)
    response_tokens = sum(r["responseTokens"] for r in results)
    samples = epochs * decoder.BATCH * decoder.GROUP
    return {
        "config": "decoder",
        "kvCache": kv_cache,
        "threads": torch.get_num_threads(),
        "epochs": epochs,
        "epochsPerSecond": round(epochs / elapsed, 2),
        "responseTokensPerSecond": round(response_tokens / elapsed),
        "samplesPerSecond": round(samples / elapsed),
        "meanResponseLength": round(response_tokens / samples, 3),
        "torch": torch.__version__,
    }


def set_threads(threads):
    """torch intra-op threads = threads, inter-op threads = 1 (possible only before any parallel work).
    OPENBLAS/OMP/MKL_NUM_THREADS must be set before Python starts: tools/pytorch-bench.sh does that."""
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError as error:
        print(f"# set_num_interop_threads(1) failed: {error}", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--config", choices=[*CONFIGS, "decoder"], action="append",
                        help="config to measure (repeatable); default: seed, scale and decoder")
    parser.add_argument("--kv-cache", action=argparse.BooleanOptionalAction, default=None,
                        help="decoder rollout with (--kv-cache) or without (--no-kv-cache) a KV cache; default: both")
    parser.add_argument("--seconds", type=float, default=10, help="measured time per config, after warm-up")
    parser.add_argument("--warmup", type=int, default=50, help="warm-up epochs per config")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (the trainer's run.threads default is 1); inter-op threads are 1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--self-test", action="store_true", help="check the decoder config's correctness and exit")
    parser.add_argument("--train-check", type=int, nargs="?", const=50, metavar="EPOCHS",
                        help="train the decoder config for EPOCHS (50) epochs, print its reward and exit")
    args = parser.parse_args()
    set_threads(args.threads)
    for line in runtime_info.report():
        print("# " + line, file=sys.stderr, flush=True)
    torch.manual_seed(args.seed)
    if args.self_test:
        sys.exit(decoder_checks.self_test(args.seed))
    if args.train_check is not None:
        sys.exit(decoder_checks.train_check(args.train_check, args.seed, kv_cache=args.kv_cache is not False))
    for name in args.config or [*CONFIGS, "decoder"]:
        if name == "decoder":
            for kv_cache in ([False, True] if args.kv_cache is None else [args.kv_cache]):
                print(json.dumps(measure_decoder(kv_cache, args.warmup, args.seconds, args.seed)), flush=True)
        else:
            print(json.dumps(measure(name, args.warmup, args.seconds, args.seed)), flush=True)


if __name__ == "__main__":
    main()
