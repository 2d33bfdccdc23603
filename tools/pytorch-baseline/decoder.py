"""The `decoder` config of the PyTorch baseline: GRPO on variable-length sorting with an autoregressive, nanoGPT-style
decoder-only transformer, written the way a PyTorch user would write it.

Task: B=64 prompts per epoch, lengths uniform in 1..8, tokens uniform in 0..15 (V=16). Token ids: values 0..15,
SEP=16 (end of prompt), EOS=17 (end of response), PAD=18. Each row is `[PAD.. prompt SEP] [r1 .. rk]`: prompts are
left-padded to 8 tokens so every SEP sits in column 8 and all rows decode in lockstep; a response is at most 9
tokens (8 values + EOS) and is truncated there. After EOS a row is finished: its later columns are PAD and masked.

Policy: token embedding over 19 ids, learned position embeddings over 2*8+2 = 18 positions counted from each row's
first real token (cumsum(mask) - 1, clamped at 0, so left padding does not shift positions), 2 pre-norm blocks
(LayerNorm -> causal 4-head self-attention, d_model 64, key padding mask -> residual; LayerNorm -> 64-256-64 MLP with
exact GELU -> residual), a final LayerNorm and a 17-way head: outputs 0..15 are the values, output 16 is EOS.
SEP and PAD are never generated. Initialised as nanoGPT does: Linear and Embedding weights normal(0, 0.02), biases
zero, the residual projections (attention and MLP outputs) normal(0, 0.02 / sqrt(2 * layers)); LayerNorm at
PyTorch's ones/zeros; no weight tying (the head has 17 outputs, the embedding 19 rows).

Epoch: rollout of the B prompts x G=16 (1,024 rows in one batch) under no_grad at temperature 1 with
torch.multinomial, recording log pi_old and the response mask; sort-distance rewards in Python; advantages centred
per group; mu=2 Adam steps (lr 1e-3, global grad-norm clip 1.0) on the per-token clipped surrogate (eps 0.2, no KL,
no reference model) aggregated as a mean over each response's tokens, then over responses.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

VALUES, MAX_LENGTH = 16, 8
SEP, EOS, PAD = VALUES, VALUES + 1, VALUES + 2
EOS_OUTPUT = VALUES                      # head output index of EOS; outputs 0..15 are the values themselves
PROMPT_WIDTH = MAX_LENGTH + 1            # left-padded prompt + SEP
MAX_RESPONSE = MAX_LENGTH + 1            # at most 8 values + EOS
MAX_POSITIONS = 2 * MAX_LENGTH + 2
BATCH, GROUP = 64, 16
D_MODEL, HEADS, LAYERS, MLP_DIM = 64, 4, 2, 256
INNER_STEPS, CLIP, LEARNING_RATE, MAX_GRAD_NORM = 2, 0.2, 1e-3, 1.0


class CausalSelfAttention(nn.Module):
    """nanoGPT's attention (one qkv projection, manual softmax attention) plus an optional per-layer KV cache."""

    def __init__(self):
        super().__init__()
        self.c_attn = nn.Linear(D_MODEL, 3 * D_MODEL)
        self.c_proj = nn.Linear(D_MODEL, D_MODEL)

    def forward(self, x, allowed, cache=None, start=0):
        """x [N, T, D] holds columns start..start+T-1; allowed [N, 1, T, start+T] says which keys each query sees.
        With a cache (keys, values: [N, H, max columns, D/H]) this call's keys and values are written at columns
        start..start+T-1 and attention runs over columns 0..start+T-1; without one, start must be 0."""
        batch, length, dim = x.shape
        q, k, v = self.c_attn(x).split(dim, dim=2)
        q, k, v = (t.view(batch, length, HEADS, dim // HEADS).transpose(1, 2) for t in (q, k, v))   # [N, H, T, dh]
        if cache is not None:
            keys, values = cache
            keys[:, :, start:start + length] = k
            values[:, :, start:start + length] = v
            k, v = keys[:, :, :start + length], values[:, :, :start + length]
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.shape[-1]))
        att = F.softmax(att.masked_fill(~allowed, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(batch, length, dim)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_fc = nn.Linear(D_MODEL, MLP_DIM)
        self.gelu = nn.GELU()                # exact (erf) GELU, PyTorch's default
        self.c_proj = nn.Linear(MLP_DIM, D_MODEL)

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class Block(nn.Module):
    """Pre-norm block: x + attention(LN(x)), then x + MLP(LN(x))."""

    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(D_MODEL)
        self.attn = CausalSelfAttention()
        self.ln_2 = nn.LayerNorm(D_MODEL)
        self.mlp = MLP()

    def forward(self, x, allowed, cache=None, start=0):
        x = x + self.attn(self.ln_1(x), allowed, cache, start)
        return x + self.mlp(self.ln_2(x))


class DecoderPolicy(nn.Module):
    """Decoder-only transformer over token ids 0..18 with a 17-way head (values 0..15, then EOS)."""

    def __init__(self):
        super().__init__()
        self.token_embedding = nn.Embedding(VALUES + 3, D_MODEL)
        self.position_embedding = nn.Embedding(MAX_POSITIONS, D_MODEL)
        self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
        self.final_norm = nn.LayerNorm(D_MODEL)
        self.head = nn.Linear(D_MODEL, VALUES + 1)
        self.apply(self._init_weights)
        for name, parameter in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(parameter, mean=0.0, std=0.02 / math.sqrt(2 * LAYERS))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def new_caches(self, rows, columns):
        """One preallocated (keys, values) pair of [rows, H, columns, D/H] zeros per layer."""
        shape = (rows, HEADS, columns, D_MODEL // HEADS)
        return [(torch.zeros(shape), torch.zeros(shape)) for _ in self.blocks]

    def forward(self, tokens, mask, caches=None, start=0):
        """Logits [N, T, 17] for tokens [N, T], which are columns start..start+T-1 of the rows; mask [N, start+T] is
        True on the real tokens of every column so far. A query sees the real keys at or before its column, and a
        PAD query also sees itself (so no softmax row is all -inf). Without caches, start must be 0."""
        length, columns = tokens.shape[1], mask.shape[1]
        positions = (mask.long().cumsum(dim=1) - 1).clamp(min=0)[:, start:]               # [N, T]
        x = self.token_embedding(tokens) + self.position_embedding(positions)
        query_column = torch.arange(start, columns).unsqueeze(1)                              # [T, 1]
        key_column = torch.arange(columns).unsqueeze(0)                                       # [1, S]
        visible = mask.unsqueeze(1) | (key_column == query_column)                            # [N, T, S]
        allowed = (visible & (key_column <= query_column)).unsqueeze(1)                       # [N, 1, T, S]
        for layer, block in enumerate(self.blocks):
            x = block(x, allowed, None if caches is None else caches[layer], start)
        return self.head(self.final_norm(x))


class Decoding:
    """A batch of rows decoded column by column. Without a KV cache every step runs the policy over the whole prefix
    again, as nanoGPT's `generate` does; with one, the prompt is run once and each step feeds only the new column."""

    def __init__(self, policy, prompt_tokens, prompt_mask, kv_cache):
        self.policy, self.tokens, self.mask = policy, prompt_tokens, prompt_mask
        rows, width = prompt_tokens.shape
        self.caches = policy.new_caches(rows, width + MAX_RESPONSE) if kv_cache else None
        self.fed = 0                         # columns already in the cache

    def next_logits(self):
        """Logits [N, 17] of the column after the last one."""
        if self.caches is None:
            # The whole prefix again, head included on every column, then the last column kept: the plain forward.
            # (nanoGPT's own forward trims the head to the last column; here the head is 64x17, <1% of a step.)
            logits = self.policy(self.tokens, self.mask)
        else:
            logits = self.policy(self.tokens[:, self.fed:], self.mask, self.caches, start=self.fed)
            self.fed = self.tokens.shape[1]
        return logits[:, -1]

    def append(self, tokens, real):
        # torch.cat of a growing prefix, as nanoGPT's generate does (a preallocated buffer would save the copies).
        self.tokens = torch.cat([self.tokens, tokens.unsqueeze(1)], dim=1)
        self.mask = torch.cat([self.mask, real.unsqueeze(1)], dim=1)


def sample_prompts(batch):
    """`batch` prompts: (lists of values, left-padded token ids [batch, 9] ending in SEP, real-token mask [batch, 9])."""
    lengths = torch.randint(1, MAX_LENGTH + 1, (batch,))
    values = torch.randint(0, VALUES, (batch, MAX_LENGTH))
    real = torch.arange(MAX_LENGTH).unsqueeze(0) >= MAX_LENGTH - lengths.unsqueeze(1)        # left padding
    tokens = torch.cat([torch.where(real, values, PAD), torch.full((batch, 1), SEP)], dim=1)
    mask = torch.cat([real, torch.ones(batch, 1, dtype=torch.bool)], dim=1)
    lists = [row[MAX_LENGTH - n:] for row, n in zip(values.tolist(), lengths.tolist())]
    return lists, tokens, mask


def head_index_to_token(choice):
    """Head outputs 0..15 are the values' own ids; output 16 is EOS (id 17)."""
    return torch.where(choice == EOS_OUTPUT, EOS, choice)


@torch.no_grad()
def rollout(policy, prompt_tokens, prompt_mask, kv_cache):
    """Sample one response per row at temperature 1. Returns the response tokens [N, K] (PAD after EOS), the sampled
    head indices [N, K] (0 where masked), log pi_old [N, K], the response mask [N, K] (True up to and including EOS)
    and the mean entropy of the sampling distribution over response tokens; K <= 9 (early stop once all rows end)."""
    policy.eval()
    decoding = Decoding(policy, prompt_tokens, prompt_mask, kv_cache)
    done = torch.zeros(prompt_tokens.shape[0], dtype=torch.bool)
    tokens, choices, log_probs_old, masks = [], [], [], []
    entropy_sum = torch.zeros(())
    for _ in range(MAX_RESPONSE):
        log_probs = F.log_softmax(decoding.next_logits(), dim=-1)                            # [N, 17]
        probs = log_probs.exp()
        # Every row is sampled, finished ones too, and their sample is thrown away: the plain batched idiom
        # (dropping finished rows from the batch would be a faster trick).
        choice = torch.multinomial(probs, 1).squeeze(1)
        active = ~done
        token = torch.where(active, head_index_to_token(choice), PAD)
        tokens.append(token)
        choices.append(torch.where(active, choice, 0))
        log_probs_old.append(log_probs.gather(1, choice.unsqueeze(1)).squeeze(1))
        masks.append(active)
        entropy_sum += (-(probs * log_probs).sum(-1) * active).sum()
        decoding.append(token, active)
        done = done | (choice == EOS_OUTPUT)
        if done.all():
            break
    mask = torch.stack(masks, dim=1)
    return (torch.stack(tokens, dim=1), torch.stack(choices, dim=1), torch.stack(log_probs_old, dim=1), mask,
            (entropy_sum / mask.sum()).item())


def response_log_probs(policy, prompt_tokens, prompt_mask, response_tokens, choices, response_mask):
    """log pi of the sampled head indices [N, K] by one teacher-forced forward over [prompt, response] minus its last
    column (the logits of column c predict column c+1). Every row runs over all columns, the PAD after an early EOS
    included, as a padded batch does; packing rows by length would skip that work once responses get short."""
    tokens = torch.cat([prompt_tokens, response_tokens], dim=1)[:, :-1]
    mask = torch.cat([prompt_mask, response_mask], dim=1)[:, :-1]
    logits = policy(tokens, mask)[:, prompt_tokens.shape[1] - 1:]                           # [N, K, 17]
    return F.log_softmax(logits, dim=-1).gather(-1, choices.unsqueeze(-1)).squeeze(-1)


def sort_distance(prompt, response):
    """Positions where the response matches the sorted prompt, over max(|response|, |prompt|) (EOS excluded)."""
    matches = sum(1 for r, s in zip(response, sorted(prompt)) if r == s)
    return matches / max(len(response), len(prompt))


class DecoderTrainer:
    """One GRPO epoch of the decoder config per run_epoch() call."""

    def __init__(self, seed, kv_cache):
        torch.manual_seed(seed)
        self.kv_cache = kv_cache
        self.policy = DecoderPolicy()
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=LEARNING_RATE)

    def run_epoch(self):
        """Returns the epoch's metrics: mean reward, entropy, clip fractions, grad norm, response tokens (with EOS)."""
        prompts, prompt_tokens, prompt_mask = sample_prompts(BATCH)
        prompt_tokens = prompt_tokens.repeat_interleave(GROUP, dim=0)        # rows b*G .. b*G+G-1 hold prompt b
        prompt_mask = prompt_mask.repeat_interleave(GROUP, dim=0)
        tokens, choices, log_probs_old, mask, entropy = rollout(self.policy, prompt_tokens, prompt_mask, self.kv_cache)

        # Rewards in Python over one tolist() copy; responses are the values before EOS (PAD after it).
        responses = tokens.tolist()
        rewards = torch.tensor([sort_distance(prompts[row // GROUP], [t for t in response if t < VALUES])
                                for row, response in enumerate(responses)]).view(BATCH, GROUP)
        advantages = (rewards - rewards.mean(dim=1, keepdim=True)).view(-1, 1)              # [N, 1]

        self.policy.train()
        weights = mask.float()
        tokens_per_response = weights.sum(dim=1)
        for step in range(INNER_STEPS):
            log_probs = response_log_probs(self.policy, prompt_tokens, prompt_mask, tokens, choices, mask)
            # Masked columns hold arbitrary log-probs (finished rows were sampled too): zero their log-ratio so that
            # exp cannot overflow there, then weight them out.
            ratio = torch.exp(torch.where(mask, log_probs - log_probs_old, 0.0))
            surrogate = torch.minimum(ratio * advantages, torch.clamp(ratio, 1 - CLIP, 1 + CLIP) * advantages)
            loss = (-(surrogate * weights).sum(dim=1) / tokens_per_response).mean()           # sequence_mean
            self.optimizer.zero_grad()
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(self.policy.parameters(), MAX_GRAD_NORM)
            self.optimizer.step()
        with torch.no_grad():
            clip_low = ((ratio < 1 - CLIP) & mask).sum().item() / mask.sum().item()
            clip_high = ((ratio > 1 + CLIP) & mask).sum().item() / mask.sum().item()
        return dict(reward=rewards.mean().item(), entropy=entropy, clipLow=clip_low, clipHigh=clip_high,
                    gradNorm=grad_norm.item(), responseTokens=int(mask.sum().item()))
