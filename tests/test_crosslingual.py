from qa.crosslingual import is_english, stem, translate_query


def test_english_is_told_from_chinese():
    assert is_english("What should companies do about saving energy?")
    assert not is_english("企业如何节能降耗")
    assert not is_english("GDP增长1.4亿元")
    assert not is_english("2023")


def test_stemming_treats_query_and_gloss_words_alike():
    assert stem("saving") == stem("save") == stem("saves")
    assert stem("industries") == "industry"
    assert stem("cadres") == stem("cadre")


def test_words_and_phrases_become_chinese_terms_the_collection_knows():
    known = {"节能", "能源", "企业", "干部", "选拔", "工业"}
    terms = translate_query("What should enterprises do about saving energy?", known=known.__contains__)
    assert terms[0] == "节能"  # the phrase "saving energy" (gloss "to save energy") comes before single words
    assert set(terms) <= known and "企业" in terms
    assert translate_query("the of and", known=known.__contains__) == []
