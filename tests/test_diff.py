from scraper.diff import changed_fields, changed_paragraphs, render_plain, word_diff, words_changed


def test_word_diff_marks_only_the_edited_words():
    chunks = word_diff("The toll rose to seven on Monday.", "The toll rose to eight on Monday.")
    assert render_plain(chunks) == "The toll rose to [-seven-]{+eight+} on Monday."
    assert words_changed(chunks) == (1, 1)


def test_identical_texts_have_no_changed_paragraph():
    assert changed_paragraphs(word_diff("a b\n\nc d", "a b\n\nc d")) == []


def test_changed_paragraphs_keep_only_paragraphs_with_an_edit():
    old = "First paragraph stays.\n\nSecond one changes here.\n\nThird stays too."
    new = "First paragraph stays.\n\nSecond one changed here.\n\nThird stays too."
    paragraphs = changed_paragraphs(word_diff(old, new))
    assert [render_plain(p).strip() for p in paragraphs] == [
        "Second one [-changes-]{+changed+} here."
    ]


def test_added_paragraph_is_one_insertion():
    paragraphs = changed_paragraphs(word_diff("One.\n\nTwo.", "One.\n\nTwo.\n\nThree is new."))
    assert [render_plain(p).strip() for p in paragraphs] == ["{+Three is new.+}"]


def test_changed_fields_names_metadata_then_text():
    old = {"title": "A", "authors": ["X"], "text": "body", "published": "2024-01-01T00:00:00+00:00"}
    new = {"title": "B", "authors": ["X", "Y"], "text": "body!", "published": old["published"]}
    assert changed_fields(old, new) == ["title", "authors", "text"]


def test_color_rendering_uses_ansi_codes():
    out = render_plain(word_diff("a b", "a c"), color=True)
    assert "\x1b[31mb\x1b[0m" in out and "\x1b[32mc\x1b[0m" in out


def test_deleted_paragraph_before_an_edited_one_stays_apart():
    chunks = word_diff("A a a.\n\nB b b.\n\nC c c.", "B b X b.\n\nC c c.")
    assert [render_plain(p).strip() for p in changed_paragraphs(chunks)] == [
        "[-A a a.-]", "B b {+X+} b."]


def test_several_deleted_paragraphs_show_one_by_one():
    chunks = word_diff("Keep.\n\nGone one.\n\nGone two.", "Keep.")
    assert [render_plain(p).strip() for p in changed_paragraphs(chunks)] == [
        "[-Gone one.-]", "[-Gone two.-]"]
