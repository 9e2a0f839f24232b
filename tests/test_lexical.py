from qa.lexical import LexicalIndex, lexical_tokens


def test_tokens_are_simplified_words_without_punctuation():
    # A real line of seed 002 (Traditional with pinyin already removed).
    tokens = lexical_tokens("招商引資進度全市排名最后,與6月末實現“雙過半”的目標存在較大差距。")
    assert tokens == ["招商", "引资", "招商引资", "进度", "全市", "排名", "最后", "6", "月末", "实现", "双", "过半",
                      "目标", "存在", "较大", "差距"]


def test_traditional_and_simplified_texts_tokenise_alike():
    assert lexical_tokens("縣工業領導組擴大會上的講話") == lexical_tokens("县工业领导组扩大会上的讲话")


def test_english_and_figures_lowercased():
    assert lexical_tokens("GDP grew 1.4亿元") == ["gdp", "grew", "1.4", "亿元"]


def test_search_ranks_matching_passage_and_respects_filter(tmp_path):
    texts = ["招商引资进度全市排名最后", "工业经济运行情况良好", "深入开展平安创建活动"]
    index = LexicalIndex.build([10, 11, 12], [lexical_tokens(t) for t in texts])
    pids, scores = index.search(lexical_tokens("招商引資為什麼落後"), 5)
    assert pids.tolist() == [10] and scores[0] > 0
    pids, _ = index.search(lexical_tokens("招商引资 工业经济"), 5, allowed_pids=[11])
    assert pids.tolist() == [11]
    index.save(tmp_path / "lex")
    again = LexicalIndex.load(tmp_path / "lex")
    assert again.search(lexical_tokens("平安创建"), 3)[0].tolist() == [12]


def test_unknown_words_and_empty_index_give_nothing(tmp_path):
    empty = LexicalIndex.build([], [])
    assert len(empty.search(["招商"], 5)[0]) == 0
    empty.save(tmp_path / "empty")
    assert len(LexicalIndex.load(tmp_path / "empty")) == 0
    index = LexicalIndex.build([1], [lexical_tokens("工业经济")])
    assert len(index.search(lexical_tokens("xyzzy"), 5)[0]) == 0
