"""The PDF page image with the passage's text boxes highlighted."""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium
import pytest

from tests.documents import make_pdf
from ui.page_image import highlighted_page, merge_lines, passage_rects

TEXT = ("The dental plan covers two cleanings per year and one set of x-rays. Orthodontic treatment for "
        "children under eighteen is covered at fifty percent after a waiting period of twelve months.")


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    return make_pdf(tmp_path / "dental.pdf", ["Cover page.", TEXT])


def test_passage_found_across_line_breaks_and_changed_spacing(pdf: Path) -> None:
    document = pdfium.PdfDocument(str(pdf))
    try:
        # chunk text is normalised: its line breaks and spaces differ from the PDF's text layer
        rects = passage_rects(document, 2, "Orthodontic treatment for children  under\neighteen is covered at fifty")
        assert len(rects) >= 1
        width = document[1].get_width()
        assert all(0 <= r[0] < r[2] <= width for r in rects)
        assert passage_rects(document, 1, "Orthodontic treatment") == []
    finally:
        document.close()


def test_highlighted_image_is_shaded_where_the_passage_is(pdf: Path) -> None:
    plain, found_nothing = highlighted_page(pdf, 2, "no such words anywhere")
    shaded, found = highlighted_page(pdf, 2, TEXT)
    assert found and not found_nothing
    assert plain.size == shaded.size
    assert plain.tobytes() != shaded.tobytes()


def test_page_outside_the_file_is_an_error(pdf: Path) -> None:
    with pytest.raises(ValueError, match="page 3 is not in this 2-page file"):
        highlighted_page(pdf, 3, TEXT)


def test_pieces_of_one_line_merge() -> None:
    assert merge_lines([(10, 100, 50, 110), (52, 100.5, 90, 110), (10, 80, 40, 90)]) == [
        (10, 100, 90, 110), (10, 80, 40, 90)]


def test_the_image_boxes_the_cited_sentence_not_the_whole_passage(pdf: Path) -> None:
    """The page image marks the same sentences as the highlighted text (ui/sources.py passes them)."""
    from ui.sources import cited_spans

    spans = cited_spans(TEXT, ["Orthodontic treatment for children is covered at fifty percent."])
    sentences = [TEXT[a:b] for a, b in spans]
    assert sentences == [TEXT[TEXT.index("Orthodontic"):]]
    whole, _ = highlighted_page(pdf, 2, TEXT)
    sentence, found = highlighted_page(pdf, 2, sentences)
    plain, _ = highlighted_page(pdf, 2, "no such words anywhere")
    assert found

    def shaded(image: object) -> int:  # pixels that differ from the plain page
        return sum(a != b for a, b in zip(image.tobytes(), plain.tobytes(), strict=True))  # type: ignore[attr-defined]

    assert 0 < shaded(sentence) < shaded(whole)
