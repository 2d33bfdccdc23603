"""Correctness checks of the `decoder` config (grpo_bench.py --self-test and --train-check).

--self-test: the sort-distance reward on hand-worked cases; then, on two policies (nanoGPT init after 3 training epochs,
and one with all Linear/Embedding parameters drawn with std 0.3 so that attention is sharp and logits are O(1-10)):
  * the KV-cache decode and nanoGPT's whole-prefix decode give the same logits for the same prefix at every step;
  * both rollouts draw the same samples from the same seed, and their log pi_old equals the teacher-forced log-probs;
  * left padding is invisible: more PAD columns, no PAD at all (one row per batch), or other ids under the mask give
    the same response log-probs, through the teacher-forced forward and through the cache.
--train-check: trains the decoder config (with the KV cache) and prints its reward, which must rise.
"""
import torch

import decoder as d

TOLERANCE = 1e-5


def teacher_forced_steps(policy, prompt_tokens, prompt_mask, tokens, mask, kv_cache):
    """Logits [N, K, 17] of each response column, decoding the given responses column by column."""
    decoding, steps = d.Decoding(policy, prompt_tokens, prompt_mask, kv_cache), []
    for column in range(tokens.shape[1]):
        steps.append(decoding.next_logits())
        decoding.append(tokens[:, column], mask[:, column])
    return torch.stack(steps, dim=1)


def masked_max_diff(a, b, mask):
    return ((a - b).abs() * mask).max().item()


class Checks:
    def __init__(self):
        self.failures = 0

    def expect(self, name, value, ok):
        self.failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {value}")

    def close(self, name, diff):
        self.expect(name, f"max |diff| {diff:.2e}", diff <= TOLERANCE)


def check_rewards(checks):
    cases = [([3, 1, 2], [1, 2, 3], 1.0), ([3, 1, 2], [1, 2], 2 / 3), ([3, 1, 2], [1, 2, 3, 3], 3 / 4),
             ([3, 1, 2], [], 0.0), ([5], [5], 1.0), ([2, 2], [2, 5], 1 / 2)]
    for prompt, response, expected in cases:
        got = d.sort_distance(prompt, response)
        checks.expect(f"sort_distance({prompt}, {response})", f"{got:.4f}", abs(got - expected) < 1e-12)


def check_policy(checks, name, policy, seed):
    policy.eval()
    with torch.no_grad():
        _, prompt_tokens, prompt_mask = d.sample_prompts(16)
        prompt_tokens, prompt_mask = prompt_tokens.repeat_interleave(4, 0), prompt_mask.repeat_interleave(4, 0)
        rollouts = {}
        for kv_cache in (False, True):
            torch.manual_seed(seed)
            rollouts[kv_cache] = d.rollout(policy, prompt_tokens, prompt_mask, kv_cache)
        tokens, choices, _, mask, _ = rollouts[False]
        weights = mask.float()
        no_cache = teacher_forced_steps(policy, prompt_tokens, prompt_mask, tokens, mask, False)
        checks.expect(f"{name}: both rollouts sample the same responses from one seed",
                      f"mean length {weights.sum(1).mean():.2f}, max |logit| {no_cache.abs().max():.2f}",
                      torch.equal(rollouts[True][0], tokens))

        # The same prefix gives the same logits with and without the cache, at every step.
        cached = teacher_forced_steps(policy, prompt_tokens, prompt_mask, tokens, mask, True)
        checks.close(f"{name}: logits, KV cache vs whole prefix, every step",
                     masked_max_diff(no_cache, cached, weights.unsqueeze(-1)))

        # log pi_old from each rollout equals the teacher-forced log-probs (the first ratio is 1).
        teacher = d.response_log_probs(policy, prompt_tokens, prompt_mask, tokens, choices, mask)
        for kv_cache in (False, True):
            checks.close(f"{name}: log pi_old (kv cache {kv_cache}) vs teacher-forced forward",
                         masked_max_diff(rollouts[kv_cache][2], teacher, weights))

        # Left padding is invisible: 5 more PAD columns, other ids under the mask, no padding at all.
        extra = 5
        padded_tokens = torch.cat([torch.full((len(tokens), extra), d.PAD), prompt_tokens], dim=1)
        padded_mask = torch.cat([torch.zeros(len(tokens), extra, dtype=torch.bool), prompt_mask], dim=1)
        more = d.response_log_probs(policy, padded_tokens, padded_mask, tokens, choices, mask)
        checks.close(f"{name}: log-probs with {extra} more PAD columns", masked_max_diff(more, teacher, weights))
        more_cached = teacher_forced_steps(policy, padded_tokens, padded_mask, tokens, mask, True)
        checks.close(f"{name}: logits with {extra} more PAD columns, through the cache",
                     masked_max_diff(more_cached, no_cache, weights.unsqueeze(-1)))
        garbage = torch.where(prompt_mask, prompt_tokens, torch.randint(0, d.VALUES + 3, prompt_tokens.shape))
        other = d.response_log_probs(policy, garbage, prompt_mask, tokens, choices, mask)
        checks.close(f"{name}: log-probs with random ids under the PAD mask", masked_max_diff(other, teacher, weights))
        worst = 0.0
        for row in range(len(tokens)):
            real = prompt_mask[row]
            alone = d.response_log_probs(policy, prompt_tokens[row, real].unsqueeze(0), real[real].unsqueeze(0),
                                         tokens[row:row + 1], choices[row:row + 1], mask[row:row + 1])
            worst = max(worst, masked_max_diff(alone, teacher[row:row + 1], weights[row:row + 1]))
        checks.close(f"{name}: log-probs of each row alone without padding", worst)


def self_test(seed):
    """Runs the checks; returns the process exit code (0 when all pass)."""
    checks = Checks()
    check_rewards(checks)
    trained = d.DecoderTrainer(seed, kv_cache=True)
    for _ in range(3):
        trained.run_epoch()
    check_policy(checks, "nanoGPT init + 3 epochs", trained.policy, seed)
    sharp = d.DecoderPolicy()
    with torch.no_grad():
        for module in sharp.modules():
            if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
                for parameter in module.parameters():
                    parameter.normal_(0.0, 0.3)
    check_policy(checks, "std 0.3 weights", sharp, seed)
    print(f"self-test: {checks.failures} failure(s)")
    return 1 if checks.failures else 0


def train_check(epochs, seed, kv_cache=True, every=5):
    """Trains the decoder config for `epochs` epochs, printing the mean of each `every` epochs' metrics; returns 0 when
    the mean reward of the last `every` epochs is above that of the first `every`."""
    trainer, window, means = d.DecoderTrainer(seed, kv_cache), [], []
    for epoch in range(1, epochs + 1):
        metrics = trainer.run_epoch()
        metrics["meanResponseLength"] = metrics.pop("responseTokens") / (d.BATCH * d.GROUP)
        window.append(metrics)
        if epoch % every == 0 or epoch == epochs:
            mean = {key: sum(m[key] for m in window) / len(window) for key in window[0]}
            means.append(mean["reward"])
            figures = ", ".join(f"{key} {value:.3f}" for key, value in mean.items())
            print(f"epochs {epoch - len(window) + 1:3}-{epoch:3}: {figures}", flush=True)
            window = []
    rises = means[-1] > means[0]
    print(f"train-check: reward {means[0]:.3f} (first {every} epochs) -> {means[-1]:.3f} (last {every}): "
          f"{'rises' if rises else 'DOES NOT RISE'}")
    return 0 if rises else 1
