from pathlib import Path

from qa.index.near_duplicates import NearDuplicateFinder
from qa.text.normalize import to_simplified
from qa.text.shingles import estimated_jaccard, minhash_signature

SEEDS = Path(__file__).parents[1] / "qa" / "sample_speeches"


def test_traditional_copy_is_a_near_duplicate_of_its_simplified_twin():
    text = (SEEDS / "000_d509771d086070bc.txt").read_text(encoding="utf-8")
    assert estimated_jaccard(minhash_signature(text), minhash_signature(to_simplified(text))) == 1.0


def test_copy_with_extra_boilerplate_is_found_but_other_speech_is_not():
    text = (SEEDS / "004_ea375ec86079450b.txt").read_text(encoding="utf-8")
    other = (SEEDS / "003_621983c26dd8b4eb.txt").read_text(encoding="utf-8")
    finder = NearDuplicateFinder()
    finder.add("d-004", minhash_signature(text))
    assert finder.find(minhash_signature("上一篇:某某文章\n" + text + "\n下一篇:另一篇")) == "d-004"
    assert finder.find(minhash_signature(other)) is None


def python_grams(text: str, n: int = 4) -> set[str]:
    from qa.text.alignment import fold_chars

    folded = "".join(fold_chars(text).split())
    return {folded[i : i + n] for i in range(max(1, len(folded) - n + 1))}


def test_gram_containment_counts_what_python_sets_count():
    from qa.text.shingles import gram_containment

    speech = sorted(SEEDS.glob("*.txt"))[1].read_text(encoding="utf-8")
    texts = [speech[:300], to_simplified(speech[:300]).replace("，", ","), speech[150:450], speech[1000:1300],
             "短", "", "abab abab", speech[:300] + speech[:300]]
    shared, sizes = gram_containment(texts)
    grams = [python_grams(text) for text in texts]
    assert sizes.tolist() == [len(g) for g in grams]
    assert shared.tolist() == [[len(a & b) for b in grams] for a in grams]
    assert gram_containment([])[0].shape == (0, 0)
