"""A one-page PDF for signing tests."""

from __future__ import annotations

import io

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.writer import PdfFileWriter


def blank_pdf() -> bytes:
    w = PdfFileWriter()
    n = generic.NumberObject
    page = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Page"),
            generic.NameObject("/MediaBox"): generic.ArrayObject([n(0), n(0), n(595), n(842)]),
            generic.NameObject("/Contents"): w.add_object(generic.StreamObject(stream_data=b"")),
            generic.NameObject("/Resources"): generic.DictionaryObject(),
        }
    )
    w.insert_page(page)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()
