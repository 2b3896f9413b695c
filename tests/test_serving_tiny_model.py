"""The tiny smoke-test checkpoints: loadable shapes, deterministic, seed-dependent."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from serving.tiny_model import CHAT_TEMPLATE, EOS, make_tiny_model


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_builds_identical_files_and_another_seed_other_weights(tmp_path):
    a1 = make_tiny_model(tmp_path / "a1", seed=1)
    a2 = make_tiny_model(tmp_path / "a2", seed=1)
    b = make_tiny_model(tmp_path / "b", seed=2)
    for name in ("model.safetensors", "tokenizer.json", "config.json", "tokenizer_config.json"):
        assert digest(a1 / name) == digest(a2 / name), name
    assert digest(a1 / "model.safetensors") != digest(b / "model.safetensors")


def test_config_matches_weights_and_has_head_dim_64(tmp_path):
    path = make_tiny_model(tmp_path / "m", seed=3)
    config = json.loads((path / "config.json").read_text())
    weights = load_file(str(path / "model.safetensors"))
    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert config["head_dim"] == config["hidden_size"] // config["num_attention_heads"] == 64
    assert config["vocab_size"] == tokenizer.get_vocab_size()
    assert weights["model.embed_tokens.weight"].shape == (config["vocab_size"], 128)
    assert weights["lm_head.weight"].shape == (config["vocab_size"], 128)
    assert weights["model.layers.1.mlp.down_proj.weight"].shape == (128, 256)
    assert config["eos_token_id"] == tokenizer.token_to_id(EOS)
    # The rare-token trick: eos has a large negative weight on the constant dimension.
    assert weights["lm_head.weight"][config["eos_token_id"], 0] < -1
    assert np.all(weights["model.layers.0.self_attn.o_proj.weight"][0] == 0)


def test_chat_template_renders_role_tokens_as_single_special_tokens(tmp_path):
    path = make_tiny_model(tmp_path / "m", seed=1)
    tokenizer_config = json.loads((path / "tokenizer_config.json").read_text())
    assert tokenizer_config["chat_template"] == CHAT_TEMPLATE
    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    tokens = tokenizer.encode("<|bos|><|user|>\nHello<|end|>\n<|assistant|>\n").tokens
    assert tokens[:2] == ["<|bos|>", "<|user|>"] and "<|assistant|>" in tokens


def test_existing_directory_is_not_overwritten_without_force(tmp_path):
    make_tiny_model(tmp_path / "m", seed=1)
    with pytest.raises(FileExistsError, match="--force"):
        make_tiny_model(tmp_path / "m", seed=2)
    make_tiny_model(tmp_path / "m", seed=2, force=True)
    assert json.loads((tmp_path / "m" / "arena_tiny_model.json").read_text())["seed"] == 2


def test_make_tiny_command_writes_a_model(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "arena", "models", "make-tiny", str(tmp_path / "t"), "--seed", "5"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "smoke-test model (seed 5)" in result.stdout
    assert (tmp_path / "t" / "model.safetensors").exists()
