"""A one-page PDF for the demo to sign.

pyHanko's PDF object classes carry no type annotations, hence the file-wide pragma below.
"""

# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import io


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF to sign (PDF 1.7, ISO 32000-1 §7.5), built with pyHanko's writer."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.writer import PdfFileWriter

    writer = PdfFileWriter()
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode("ascii")
    font = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Font"),
            generic.pdf_name("/Subtype"): generic.pdf_name("/Type1"),
            generic.pdf_name("/BaseFont"): generic.pdf_name("/Helvetica"),
        }
    )
    resources = generic.DictionaryObject(
        {generic.pdf_name("/Font"): generic.DictionaryObject({generic.pdf_name("/F1"): font})}
    )
    page = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Page"),
            generic.pdf_name("/MediaBox"): generic.ArrayObject(
                [generic.NumberObject(n) for n in (0, 0, 612, 792)]
            ),
            generic.pdf_name("/Resources"): resources,
            generic.pdf_name("/Contents"): writer.add_object(
                generic.StreamObject(stream_data=stream)
            ),
        }
    )
    writer.insert_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
