"""Model config loading: every mistake fails at load with the file, key and reason."""

from __future__ import annotations

from pathlib import Path
from random import Random

import pytest

from serving.config import ModelConfigError, load_models_config
from serving.records import SAMPLING_KEYS

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "weights").mkdir(exist_ok=True)
    path = tmp_path / "arena.toml"
    path.write_text(text)
    return path


def load_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ModelConfigError) as failed:
        load_models_config(write(tmp_path, text))
    return str(failed.value)


LOCAL = '[[models]]\nname = "a"\nmodel = "./weights"\nport = 8001\n'
REMOTE = '[[models]]\nname = "b"\nbase_url = "http://gpu-box:8000/v1"\n'


def test_demo_config_loads_with_model_paths_relative_to_the_config_file():
    config = load_models_config(REPO / "examples" / "demo.toml")
    assert config.names == ["tiny-a", "tiny-b"]
    assert config.model("tiny-a").model == str(REPO / "models" / "tiny-a")
    assert str(config.serving.vllm_python) == str(REPO / ".venv-vllm" / "bin" / "python")
    assert config.sampling_for("tiny-b").temperature == 0.9
    assert config.sampling_for("tiny-a").temperature == 0.7


def test_gpu_example_config_loads():
    config = load_models_config(REPO / "examples" / "gpu.toml")
    assert all(spec.launched and spec.model.count("/") == 1 for spec in config.models)
    assert sum(spec.gpu_memory_utilization or 0 for spec in config.models) < 1


def test_tables_owned_by_others_are_ignored(tmp_path):
    config = load_models_config(write(tmp_path, '[arena]\nwhatever = 1\n[ui]\nx = "y"\n' + LOCAL))
    assert config.names == ["a"]


def test_local_model_and_remote_model_are_told_apart(tmp_path):
    config = load_models_config(write(tmp_path, LOCAL + REMOTE))
    local, remote = config.model("a"), config.model("b")
    assert local.launched and local.model == str(tmp_path / "weights")
    assert local.url == "http://127.0.0.1:8001"
    assert not remote.launched and remote.url == "http://gpu-box:8000"  # /v1 stripped
    assert remote.endpoint().chat_url == "http://gpu-box:8000/v1/chat/completions"


def test_a_hub_id_is_passed_through(tmp_path):
    config = load_models_config(write(
        tmp_path, '[[models]]\nname = "q"\nmodel = "Qwen/Qwen2.5-0.5B-Instruct"\nport = 8001\n'))
    assert config.model("q").model == "Qwen/Qwen2.5-0.5B-Instruct"


def test_unknown_key_in_models_names_file_key_and_allowed_keys(tmp_path):
    message = load_error(tmp_path, LOCAL + "temprature = 0.5\n")
    assert str(tmp_path / "arena.toml") in message
    assert "models[0] (a).temprature: unknown key" in message
    assert "served_model_name" in message  # lists what is allowed


def test_unknown_key_in_sampling_is_rejected(tmp_path):
    message = load_error(tmp_path, "[sampling]\ntop_q = 0.9\n" + LOCAL)
    assert "sampling.top_q: unknown key" in message


def test_unknown_key_in_a_model_sampling_override_is_rejected(tmp_path):
    message = load_error(tmp_path, LOCAL + "[models.sampling]\ntemp = 1.0\n")
    assert "models[0] (a).sampling.temp: unknown key" in message


def test_missing_name_is_reported(tmp_path):
    message = load_error(tmp_path, '[[models]]\nmodel = "./weights"\nport = 8001\n')
    assert "models[0].name: missing field" in message


def test_missing_port_for_a_launched_model_is_reported(tmp_path):
    message = load_error(tmp_path, '[[models]]\nname = "a"\nmodel = "./weights"\n')
    assert "models[0] (a).port: missing field" in message


def test_no_models_at_all_is_reported(tmp_path):
    assert "models: missing" in load_error(tmp_path, "[sampling]\ntemperature = 0.5\n")


def test_duplicate_name_is_reported(tmp_path):
    message = load_error(tmp_path, LOCAL + LOCAL.replace("8001", "8002"))
    assert "models[1] (a).name: duplicate name; models[0] has it too" in message


def test_duplicate_port_is_reported(tmp_path):
    message = load_error(tmp_path, LOCAL + LOCAL.replace('"a"', '"c"'))
    assert "models[1] (c).port: duplicate port 8001; a uses it" in message


def test_missing_model_directory_is_reported_with_a_hint(tmp_path):
    message = load_error(tmp_path, '[[models]]\nname = "a"\nmodel = "./nope"\nport = 8001\n')
    assert f"model directory {tmp_path / 'nope'} does not exist" in message
    assert "make-tiny" in message


def test_both_base_url_and_model_is_rejected(tmp_path):
    message = load_error(tmp_path, LOCAL + 'base_url = "http://x:1"\n')
    assert "give exactly one of base_url" in message and "not both" in message


def test_neither_base_url_nor_model_is_rejected(tmp_path):
    message = load_error(tmp_path, '[[models]]\nname = "a"\n')
    assert "models[0] (a): give exactly one of base_url" in message


def test_launch_settings_on_a_remote_model_are_rejected(tmp_path):
    message = load_error(tmp_path, REMOTE + "port = 9000\n")
    assert "models[0] (b).port: is a launch setting" in message


def test_wrong_types_are_reported(tmp_path):
    message = load_error(tmp_path, '[sampling]\ntemperature = "hot"\n' + LOCAL)
    assert "sampling.temperature: must be float or int, got 'hot'" in message
    message = load_error(tmp_path, LOCAL + "port = true\n".replace("port", "weight"))
    assert "weight: must be float or int, got True" in message


def test_out_of_range_sampling_after_override_is_reported(tmp_path):
    message = load_error(tmp_path, LOCAL + "[models.sampling]\ntop_p = 1.5\n")
    assert "models[0] (a).sampling.top_p: must be in (0, 1]" in message


def test_fixed_seed_policy_needs_a_seed(tmp_path):
    message = load_error(tmp_path, '[sampling]\nseed_policy = "fixed"\n' + LOCAL)
    assert "sampling.seed: seed_policy = \"fixed\" needs an integer seed" in message


def test_invalid_toml_names_the_file(tmp_path):
    message = load_error(tmp_path, "[[models]\n")
    assert str(tmp_path / "arena.toml") in message and "not valid TOML" in message


def test_missing_config_file_is_reported(tmp_path):
    with pytest.raises(ModelConfigError, match="config file not found"):
        load_models_config(tmp_path / "absent.toml")


def test_params_hold_every_sampling_key_and_a_fresh_random_seed(tmp_path):
    config = load_models_config(write(tmp_path, "[sampling]\nmax_tokens = 64\n" + LOCAL))
    first, second = config.params_for("a"), config.params_for("a")
    assert set(first) == set(SAMPLING_KEYS)
    assert first["max_tokens"] == 64 and first["stop"] == []
    assert first["seed"] != second["seed"]
    rng_a, rng_b = Random(7), Random(7)
    assert config.params_for("a", rng_a) == config.params_for("a", rng_b)  # reproducible draws


def test_fixed_seed_policy_sends_the_same_seed(tmp_path):
    config = load_models_config(write(
        tmp_path, '[sampling]\nseed_policy = "fixed"\nseed = 1234\n' + LOCAL))
    assert config.params_for("a")["seed"] == config.params_for("a")["seed"] == 1234


def test_model_overrides_merge_over_defaults(tmp_path):
    text = ('[sampling]\ntemperature = 0.3\nstop = ["END"]\n' + LOCAL
            + "[models.sampling]\ntemperature = 1.2\n" + REMOTE)
    config = load_models_config(write(tmp_path, text))
    assert config.params_for("a")["temperature"] == 1.2
    assert config.params_for("a")["stop"] == ["END"]
    assert config.params_for("b")["temperature"] == 0.3


def test_system_prompt_goes_first(tmp_path):
    config = load_models_config(write(tmp_path, LOCAL + 'system_prompt = "Be brief."\n'))
    messages = config.model("a").with_system_prompt([{"role": "user", "content": "hi"}])
    assert messages == [{"role": "system", "content": "Be brief."},
                        {"role": "user", "content": "hi"}]
