"""Write .docx fixtures from raw WordprocessingML, for shapes python-docx cannot make.

    make_docx(body("<w:p>…</w:p>", tbl(...)), styles=styles(...))

The helpers return XML strings; text is escaped, nothing else is checked.
"""
from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape, quoteattr

NAMESPACES = (
    'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    'xmlns:v="urn:schemas-microsoft-com:vml" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
    'mc:Ignorable="wps"'
)

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    '<Override PartName="/word/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>'
    '</Types>'
)

ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="word/document.xml"/></Relationships>'
)

DOC_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'styles" Target="styles.xml"/></Relationships>'
)


def make_docx(body_xml: str, *, styles_xml: str | None = None, minimal: bool = False) -> bytes:
    """A .docx with `body_xml` inside <w:body>; `minimal` writes only document.xml (WPS-like)."""
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f"<w:document {NAMESPACES}><w:body>{body_xml}<w:sectPr/></w:body></w:document>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        if not minimal:
            zf.writestr("[Content_Types].xml", CONTENT_TYPES)
            zf.writestr("_rels/.rels", ROOT_RELS)
        zf.writestr("word/document.xml", document)
        if styles_xml is not None:
            zf.writestr("word/_rels/document.xml.rels", DOC_RELS)
            zf.writestr("word/styles.xml", styles_xml)
    return buf.getvalue()


def run(text: str, font: str | None = None, style: str | None = None) -> str:
    props = ""
    if style:
        props += f"<w:rStyle w:val={quoteattr(style)}/>"
    if font:
        props += f"<w:rFonts w:ascii={quoteattr(font)} w:hAnsi={quoteattr(font)}/>"
    rpr = f"<w:rPr>{props}</w:rPr>" if props else ""
    return f'<w:r>{rpr}<w:t xml:space="preserve">{escape(text)}</w:t></w:r>'


def para(*content: str, style: str | None = None) -> str:
    """A paragraph; plain strings in `content` become runs, XML ("<…") is kept as is."""
    ppr = f"<w:pPr><w:pStyle w:val={quoteattr(style)}/></w:pPr>" if style else ""
    inner = "".join(c if c.startswith("<") else run(c) for c in content)
    return f"<w:p>{ppr}{inner}</w:p>"


def cell(*content: str, span: int | None = None, vmerge: str | None = None) -> str:
    """A table cell; strings become paragraphs unless they are XML already."""
    props = ""
    if span:
        props += f'<w:gridSpan w:val="{span}"/>'
    if vmerge == "restart":
        props += '<w:vMerge w:val="restart"/>'
    elif vmerge == "continue":
        props += "<w:vMerge/>"
    tcpr = f"<w:tcPr>{props}</w:tcPr>" if props else ""
    inner = "".join(c if c.startswith("<") else para(c) for c in content) or "<w:p/>"
    return f"<w:tc>{tcpr}{inner}</w:tc>"


def row(*cells: str, before: int = 0, after: int = 0) -> str:
    props = ""
    if before:
        props += f'<w:gridBefore w:val="{before}"/>'
    if after:
        props += f'<w:gridAfter w:val="{after}"/>'
    trpr = f"<w:trPr>{props}</w:trPr>" if props else ""
    return f"<w:tr>{trpr}{''.join(c if c.startswith('<') else cell(c) for c in cells)}</w:tr>"


def tbl(*rows: str, cols: int | None = None) -> str:
    grid = "<w:tblGrid>" + '<w:gridCol w:w="1000"/>' * (cols or 0) + "</w:tblGrid>"
    return f"<w:tbl><w:tblPr/>{grid}{''.join(rows)}</w:tbl>"


def sdt(content: str) -> str:
    """Wrap XML in a content control."""
    return f'<w:sdt><w:sdtPr><w:alias w:val="x"/></w:sdtPr><w:sdtContent>{content}</w:sdtContent></w:sdt>'


def styles(*style_xml: str, default_font: str | None = None) -> str:
    """A styles part: document-default font and the given <w:style> elements."""
    defaults = ""
    if default_font:
        defaults = (
            "<w:docDefaults><w:rPrDefault><w:rPr>"
            f"<w:rFonts w:ascii={quoteattr(default_font)} w:hAnsi={quoteattr(default_font)} "
            f"w:cs={quoteattr(default_font)}/>"
            "</w:rPr></w:rPrDefault></w:docDefaults>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"{defaults}{''.join(style_xml)}</w:styles>"
    )


def style(style_id: str, kind: str = "paragraph", font: str | None = None, based_on: str | None = None,
          default: bool = False) -> str:
    based = f"<w:basedOn w:val={quoteattr(based_on)}/>" if based_on else ""
    rpr = f"<w:rPr><w:rFonts w:ascii={quoteattr(font)} w:hAnsi={quoteattr(font)}/></w:rPr>" if font else ""
    flag = ' w:default="1"' if default else ""
    return (f'<w:style w:type="{kind}"{flag} w:styleId={quoteattr(style_id)}>'
            f"<w:name w:val={quoteattr(style_id)}/>{based}{rpr}</w:style>")
