"""Small uploads that become a lot of work, written here byte by byte (issue 15)."""

import io
import zipfile

_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
_CONTENT_TYPES = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats'
    '-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
    '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
    "</Relationships>"
)


def docx_xml_bomb(paragraphs: int = 83_000) -> bytes:
    """A ~15 KB DOCX whose document.xml is 4.9 MB of short paragraphs.

    The XML stays under the parser's 5 MiB ratio floor, so the package is read; its
    2.2 MB of text became 3,463 chunks (2,936 in the issue's file) before chunk limits.
    """
    body = "<w:p><w:r><w:t>lorem ipsum dolor sit amet</w:t></w:r></w:p>" * paragraphs
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as package:
        package.writestr("[Content_Types].xml", _CONTENT_TYPES)
        package.writestr("_rels/.rels", _RELS)
        package.writestr(
            "word/document.xml",
            f'<?xml version="1.0"?><w:document {_W}><w:body>{body}</w:body></w:document>',
        )
    return out.getvalue()


def one_token_per_byte_markdown(size: int = 300_000) -> bytes:
    """``size`` bytes of Markdown whose text is one word piece per byte (``"...."``):
    the densest text can be, 4.8 chunks per KiB (1,404 chunks for 300 KB)."""
    head = b"# Dots\n\n"
    return head + b"." * (size - len(head))
