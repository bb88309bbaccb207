from ingest.normalize import normalize_text


def test_ligatures_are_expanded() -> None:
    assert normalize_text("of\ufb01ce \ufb02ow e\ufb00ect") == "office flow effect"


def test_hyphen_at_line_end_joins_word() -> None:
    assert normalize_text("the bene-\nfits apply") == "the benefits apply"


def test_hyphen_before_capital_is_kept() -> None:
    assert normalize_text("Zava-\nBased") == "Zava-\nBased"


def test_whitespace_is_collapsed() -> None:
    assert normalize_text("  a \t b\u00a0 c \n\n\n\n d  ") == "a b c\n\nd"


def test_control_characters_dropped() -> None:
    assert normalize_text("a\x00b\x07c") == "a b c"


def test_pdfium_line_end_hyphens_join_only_into_dictionary_words() -> None:
    from ingest.normalize import join_line_end_hyphens

    text = "your out\x02of-pocket costs, co\x02insurance and bene\x02 fits; in\x02network only; 2\x02 x"
    assert join_line_end_hyphens(text) == "your out-of-pocket costs, coinsurance and benefits; in-network only; 2- x"
    assert join_line_end_hyphens("no marks here") == "no marks here"
