from qa.search.crosslingual import is_english, render_in_chinese, stem, translate_query
from qa.text.rarity import word_rarity


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


def test_names_of_places_people_and_bodies_come_from_capitalised_glosses():
    from qa.search.crosslingual import translate_names

    terms = translate_names("the Legislative Yuan met in Kaohsiung; Tsai visited the Kamchatka Peninsula")
    assert {"立法院", "高雄", "蔡英文", "勘察加半岛"} <= set(terms)
    # The longest name wins over its parts, and descriptions ("Taiwan variant of ...") are not names.
    assert "台湾" in translate_names("Taiwan") and "份子" not in translate_names("Taiwan")
    assert translate_names("kaohsiung is lower case") == []  # a name is capitalised in the question


def test_names_are_limited_to_words_the_collection_knows():
    from qa.search.crosslingual import translate_names

    assert translate_names("Where is Kaohsiung?", known={"高雄"}.__contains__) == ["高雄"]
    assert "蔡英文" in translate_query("What did Tsai say?", known={"蔡英文"}.__contains__)


def test_numbers_carry_over_as_they_are_written():
    terms = translate_query("How many 350 km/h trains ran in 2025, 64.6% of them new?")
    assert {"350", "2025", "64.6"} <= set(terms)
    assert "350" not in translate_query("How many 350 km/h trains?", known=lambda word: word != "350")


def test_names_are_found_in_possessives_and_compounds():
    from qa.search.crosslingual import translate_names

    terms = translate_names("Where does Taiwan rank among Montana's trading partners, according to Tsai's meeting?")
    assert {"蒙大拿", "蔡英文", "台湾"} <= set(terms)
    assert {"台湾", "日本"} <= set(translate_names("Taiwan-Japan relations"))  # two names joined
    assert translate_names("China-Japan relations") == ["中日"]  # a compound the dictionary knows whole stays whole
    assert translate_names("the All-China Women's Federation") == ["中华全国妇女联合会"]  # a possessive inside a name
    assert translate_names("Tsai Ing-wen") == ["蔡英文"]  # a hyphenated given name stays whole
    assert translate_names("Lai Ching-te") == ["赖清德"]  # "William Lai Ching-te" is also named without William


def test_a_name_whose_gloss_opens_with_a_usage_note_is_a_name():
    from qa.search.crosslingual import translate_names

    # CC-CEDICT: 中央军事委员会 /(PRC) Central Military Commission/
    assert translate_names("vice chairman of the Central Military Commission") == ["中央军事委员会"]


def test_a_gloss_that_lists_several_names_names_none_of_them_alone():
    from qa.search.crosslingual import translate_names

    # 中日韩 is "China, Japan and Korea", 中港台 "China, Hong Kong and Taiwan": neither is China.
    assert not {"中日韩", "中日韩越", "中港台"} & set(translate_names("China"))
    assert "中国" in translate_names("China's")
    assert "美国宇航局" in translate_names("NASA")  # "NASA, National Aeronautics and ..." spells one name out


def test_a_surname_alone_does_not_stand_for_someone_else_of_that_name():
    from qa.search.crosslingual import translate_names

    assert translate_names("Li Qiang") == []  # not 李先念 nor any other famous Li
    assert translate_names("President Tsai said") == ["蔡英文"]  # a surname alone still names its bearer


def test_a_pinyin_name_the_dictionary_lacks_is_spelt_as_the_collection_writes_it():
    from qa.search.crosslingual import pinyin_names, translate_names

    collection_words = {"李强", "力强", "王沪宁", "利息", "何立峰"}.__contains__
    assert translate_names("Li Qiang chaired", known_word=collection_words) == ["李强"]  # 李 before 力
    assert pinyin_names("Wang", "Huning", collection_words) == ["王沪宁"]  # two syllables: hu ning
    assert pinyin_names("He", "Lifeng", collection_words) == ["何立峰"]
    assert pinyin_names("Li", "Xi", collection_words) == []  # 利息 is interest, no name
    assert pinyin_names("Hudson", "Institute", collection_words) == []  # no surname


def test_an_english_text_is_rendered_in_its_order_as_the_commonest_translations_the_collection_holds():
    known = {"节能", "企业", "公司", "高雄"}
    # "companies": 企业 and 公司 both gloss it; 公司 is the commoner word of general Chinese.
    assert word_rarity("公司") < word_rarity("企业")
    assert render_in_chinese("How many companies in Kaohsiung saved energy in 2023?", known.__contains__,
                             word_rarity) == "高雄公司节能2023"
    # The pair "saving energy" is one word; the collection's own name readings come first.
    assert render_in_chinese("What should enterprises do about saving energy?", known.__contains__, word_rarity,
                             names=["孫曉雅"]) == "孫曉雅企业节能"
    assert render_in_chinese("companies", {"企业"}.__contains__, word_rarity) == "企业"  # the only one it holds
    assert render_in_chinese("the of and", known.__contains__, word_rarity) == ""
    # Dates come in Chinese, as the question's analysis gives them; numbers side by side stay apart.
    assert render_in_chinese("How many companies saved energy?", known.__contains__, word_rarity,
                             dates=["2026年5月15日"]) == "公司节能2026年5月15日"
    assert render_in_chinese("companies 15 2026", known.__contains__, word_rarity) == "公司15 2026"


def test_the_dictionary_tables_are_kept_for_the_next_process_and_rebuilt_when_spoilt(tmp_path, monkeypatch):
    import qa.search.crosslingual as crosslingual

    built = crosslingual._tables()
    monkeypatch.setattr(crosslingual, "_tables_dir", None)
    crosslingual.keep_tables_in(tmp_path)
    crosslingual._tables.cache_clear()
    try:
        assert crosslingual._tables() == built  # built here, and written
        [kept] = tmp_path.glob("dictionary-tables-*.pickle")
        crosslingual._tables.cache_clear()
        assert crosslingual._tables() == built  # read back
        kept.write_bytes(kept.read_bytes()[:1000])  # a write cut short
        crosslingual._tables.cache_clear()
        assert crosslingual._tables() == built and kept.stat().st_size > 1000
    finally:
        crosslingual.keep_tables_in(None)
        crosslingual._tables.cache_clear()
