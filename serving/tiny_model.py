"""Build tiny Llama-architecture checkpoints with random weights, for tests and offline demos.

They write gibberish. They exist so that the arena, its tests and its demo run end to end on a
CPU with no network: vLLM loads them like any Hugging Face Llama checkpoint. Label them as
smoke-test models wherever a person sees their output.

What is written into the directory (no torch needed; weights are numpy arrays saved with
`safetensors.numpy`):

- `config.json`: LlamaForCausalLM, 2 layers, hidden size 128, 2 attention heads of head_dim 64
  (vLLM's CPU attention supports head sizes 32, 64, 80, 96, 112, 128, ...), SiLU MLP of width 256.
- `model.safetensors`: float32 weights drawn from N(0, 0.02^2) with a generator seeded by `seed`,
  so two seeds give two different models and one seed always gives the same one.
- `tokenizer.json`: a byte-level BPE tokenizer trained with `tokenizers` on the small English
  corpus below (it depends on the builder version only, not on the seed), plus special tokens.
- `tokenizer_config.json`: bos/eos/pad tokens and a Jinja `chat_template`:
  `<|bos|><|system|>\\n...<|end|>\\n<|user|>\\n...<|end|>\\n<|assistant|>\\n`.
- `generation_config.json`, `arena_tiny_model.json` (builder version, seed, sizes).

End-of-sequence is made rare on purpose: residual dimension 0 carries a constant (no layer
writes to it), so after the final RMSNorm h[0] > 0 for every position, and the output row of
each special token (and each byte token that is not a whole printable character) gets a large
negative weight on it. The logit of `<|eos|>` is then about 8 below a typical token, so replies
run to `max_tokens` (which keeps test timings predictable) and contain no U+FFFD characters.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

# Bump when the files written change, so caches keyed by it rebuild.
BUILDER_VERSION = 1
METADATA_FILE = "arena_tiny_model.json"

BOS, EOS, PAD, END = "<|bos|>", "<|eos|>", "<|pad|>", "<|end|>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
SPECIAL_TOKENS = (BOS, EOS, PAD, END, *ROLE_TOKENS)

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)

# A small, fixed corpus: the tokenizer must be the same on every machine, with no downloads.
CORPUS = """
The river runs past the old mill and under the stone bridge before it reaches the sea.
In spring the orchard fills with white blossom, and bees work from dawn until dusk.
A good map shows the roads, the rivers, the hills and the towns, and leaves out the rest.
She opened the window, listened to the rain, and wrote three letters before breakfast.
Numbers such as 7, 42, 128 and 2048 appear in code, in recipes and in train timetables.
The library keeps maps, letters, newspapers and photographs from two hundred years ago.
Please answer the question briefly, then explain your reasoning step by step.
What is the capital of France? Paris is the capital, and the Seine flows through it.
How do I sort a list in Python? Use sorted(items) or call items.sort() in place.
Bread needs flour, water, salt and yeast; time and warmth do the rest of the work.
The committee met on Tuesday, argued for an hour, and agreed to meet again next week.
Light travels about three hundred thousand kilometres in one second through empty space.
He packed a tent, a stove, a warm coat and a small book of poems for the long walk north.
A function takes arguments, does one thing well, and returns a value to its caller.
The market opens at eight; fishermen bring the morning catch in wooden boxes of ice.
Mountains make their own weather: clouds gather on the peaks by early afternoon.
Children learn to read by reading, and to write by writing, a little every day.
The engine turned over twice, coughed, and then ran smoothly all the way to the coast.
Tell me a story about a lighthouse keeper who finds a message in a bottle.
Summarise the following text in one sentence, and keep the names of the people.
Water boils at one hundred degrees Celsius at sea level, and at less on a mountain.
The museum guide pointed at the painting and said it was finished in the winter of 1889.
Translate the sentence into German: the cat sleeps on the warm kitchen floor.
An index makes a database query fast because it avoids reading every row of the table.
Good tests are named after behaviour and check outcomes, not the calls in between.
The orchestra tuned their instruments while the audience found their seats in the hall.
If it rains tomorrow, we will stay at home, play cards and cook a large pot of soup.
Markets rise and fall; patient investors look at years, not at single days.
The doctor asked where it hurt, listened carefully, and wrote a short prescription.
Farmers rotate their crops so that the soil stays rich and pests find less to eat.
A comet has a nucleus of ice and dust, and its tail always points away from the sun.
The recipe says to stir the sauce slowly and to add the butter at the very end.
Our team shipped the new release on Friday after fixing the last two bugs.
Write a short poem about the moon, the tide and a small boat at anchor.
The train to the airport leaves every fifteen minutes from platform four.
Glass is made from sand, soda and lime heated until they melt together.
She counted the coins twice: eleven silver, three copper, and one of gold.
Why is the sky blue? Air scatters blue light more than red light from the sun.
The village held a festival with music, dancing, lanterns and fresh bread.
Explain recursion to a child using a set of nested wooden dolls as the example.
""".strip()


@dataclass(frozen=True)
class TinyModelShape:
    """Sizes of the tiny Llama. head_dim = hidden_size / num_attention_heads must be >= 64."""

    vocab_target: int = 1024
    hidden_size: int = 128
    intermediate_size: int = 256
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    num_key_value_heads: int = 2
    max_position_embeddings: int = 2048

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


def train_tokenizer(vocab_target: int = 1024):
    """A byte-level BPE tokenizer trained on CORPUS (deterministic), special tokens included."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_target,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS.splitlines(), trainer=trainer)
    return tokenizer


def _rare_token_ids(tokenizer) -> list[int]:
    """Tokens the model should almost never sample: special tokens (eos included), and byte
    tokens that are not whole printable characters (they would decode to U+FFFD or controls)."""
    rare = []
    for token_id in range(tokenizer.get_vocab_size()):
        if tokenizer.id_to_token(token_id) in SPECIAL_TOKENS:
            rare.append(token_id)
            continue
        text = tokenizer.decode([token_id])
        if not text or "\ufffd" in text or any(ch < " " and ch != "\n" for ch in text):
            rare.append(token_id)
    return rare


def _weights(shape: TinyModelShape, vocab_size: int, seed: int,
             rare_ids: list[int]) -> dict[str, np.ndarray]:
    """Random Llama weights, named as transformers' LlamaForCausalLM names them."""
    rng = np.random.default_rng(seed)
    h, inter = shape.hidden_size, shape.intermediate_size
    q_out = shape.num_attention_heads * shape.head_dim
    kv_out = shape.num_key_value_heads * shape.head_dim

    def normal(*dims: int, std: float = 0.02) -> np.ndarray:
        return (rng.standard_normal(dims) * std).astype(np.float32)

    embed = normal(vocab_size, h, std=1.0)
    embed[:, 0] = 1.0  # the constant residual dimension (see module docstring)
    tensors = {"model.embed_tokens.weight": embed}
    for layer in range(shape.num_hidden_layers):
        prefix = f"model.layers.{layer}"
        o_proj, down_proj = normal(h, q_out), normal(h, inter)
        o_proj[0, :] = 0.0  # nothing writes to residual dimension 0
        down_proj[0, :] = 0.0
        tensors |= {
            f"{prefix}.input_layernorm.weight": np.ones(h, np.float32),
            f"{prefix}.post_attention_layernorm.weight": np.ones(h, np.float32),
            f"{prefix}.self_attn.q_proj.weight": normal(q_out, h),
            f"{prefix}.self_attn.k_proj.weight": normal(kv_out, h),
            f"{prefix}.self_attn.v_proj.weight": normal(kv_out, h),
            f"{prefix}.self_attn.o_proj.weight": o_proj,
            f"{prefix}.mlp.gate_proj.weight": normal(inter, h),
            f"{prefix}.mlp.up_proj.weight": normal(inter, h),
            f"{prefix}.mlp.down_proj.weight": down_proj,
        }
    # Output logits = h . w; with unit-scale rows a typical token's logit has std ~ 1 (h has
    # unit RMS after the final norm), so sampling at temperature ~0.7 is varied but not uniform.
    lm_head = normal(vocab_size, h, std=1.0 / np.sqrt(h) * 1.5)
    lm_head[:, 0] = 0.0
    lm_head[rare_ids, 0] = -8.0  # special and broken-byte tokens almost never sampled
    tensors["model.norm.weight"] = np.ones(h, np.float32)
    tensors["lm_head.weight"] = lm_head
    return tensors


def _configs(shape: TinyModelShape, vocab_size: int, ids: dict[str, int]) -> dict[str, dict]:
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": vocab_size,
        "hidden_size": shape.hidden_size,
        "intermediate_size": shape.intermediate_size,
        "num_hidden_layers": shape.num_hidden_layers,
        "num_attention_heads": shape.num_attention_heads,
        "num_key_value_heads": shape.num_key_value_heads,
        "head_dim": shape.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": shape.max_position_embeddings,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": False,
        "initializer_range": 0.02,
        "bos_token_id": ids[BOS],
        "eos_token_id": ids[EOS],
        "pad_token_id": ids[PAD],
        "torch_dtype": "float32",
    }
    generation = {
        "bos_token_id": ids[BOS],
        "eos_token_id": ids[EOS],
        "pad_token_id": ids[PAD],
        "do_sample": True,
    }
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": EOS,
        "pad_token": PAD,
        "model_max_length": shape.max_position_embeddings,
        "clean_up_tokenization_spaces": False,
        "chat_template": CHAT_TEMPLATE,
    }
    special_map = {"bos_token": BOS, "eos_token": EOS, "pad_token": PAD}
    return {
        "config.json": config,
        "generation_config.json": generation,
        "tokenizer_config.json": tokenizer_config,
        "special_tokens_map.json": special_map,
    }


def make_tiny_model(directory: str | Path, seed: int, *, shape: TinyModelShape = TinyModelShape(),
                    force: bool = False) -> Path:
    """Write a tiny random-weight Llama checkpoint into `directory`; return its absolute path.

    The files are written into a temporary sibling directory and renamed into place, so a
    crash never leaves a half-written model. An existing non-empty directory raises
    FileExistsError unless `force` (then it is replaced).
    """
    from safetensors.numpy import save_file

    if shape.head_dim < 64 or shape.hidden_size % shape.num_attention_heads:
        raise ValueError(f"head_dim must be a whole number >= 64, got {shape.head_dim}")
    target = Path(directory).expanduser().resolve()
    if target.exists() and any(target.iterdir()) and not force:
        raise FileExistsError(f"{target} exists and is not empty; pass force=True (--force)")
    target.parent.mkdir(parents=True, exist_ok=True)

    tokenizer = train_tokenizer(shape.vocab_target)
    vocab_size = tokenizer.get_vocab_size()
    ids = {token: tokenizer.token_to_id(token) for token in SPECIAL_TOKENS}
    weights = _weights(shape, vocab_size, seed, _rare_token_ids(tokenizer))

    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        save_file(weights, str(staging / "model.safetensors"), metadata={"format": "pt"})
        tokenizer.save(str(staging / "tokenizer.json"))
        for filename, content in _configs(shape, vocab_size, ids).items():
            (staging / filename).write_text(json.dumps(content, indent=2) + "\n")
        metadata = {
            "builder": "arena.serving.tiny_model",
            "builder_version": BUILDER_VERSION,
            "seed": seed,
            "vocab_size": vocab_size,
            "shape": asdict(shape),
            "note": "random weights: a smoke-test model that writes gibberish",
        }
        (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def tiny_model_metadata(directory: str | Path) -> dict | None:
    """The builder metadata of a tiny model directory, or None if it is not one."""
    path = Path(directory) / METADATA_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def ensure_tiny_model(directory: str | Path, seed: int) -> Path:
    """Build the tiny model unless `directory` already holds one of this version and seed."""
    meta = tiny_model_metadata(directory)
    if meta and meta.get("builder_version") == BUILDER_VERSION and meta.get("seed") == seed:
        return Path(directory).resolve()
    return make_tiny_model(directory, seed, force=True)
