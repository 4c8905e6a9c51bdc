"""The parse entry point: bytes of one attachment → Document.

The story: check size → sniff the type by its bytes → (convert .doc/.odt/
.rtf to .docx) → read the .docx into blocks and grids (a PDF's text layer
is rebuilt into the same blocks, see parsers.pdf) → classify by content →
run the form's reader on its definition (parsers.form_reader: the general table
reader, parsers.table, or the Mẫu 1 / Mẫu 2 readers built on it).
Sentences naming the forms ("Mẫu 1 hoặc Mẫu 2") name the campaign's forms,
as their definitions call them (`short`, else `name`). Bad input never raises: it becomes a Document with
form=None and a problem a unit can be told about. Only a broken form
definition (configuration, not input) raises FormDefError.
"""
from __future__ import annotations

import importlib
import logging

from parsers.classify import decide
from parsers import docx_grid, form_reader, formdef as fd, safety
from parsers.docx_grid import DocxContent
from parsers.formdef import definition_for
from parsers.model import Document, DocumentError, ParseContext, Problem
from parsers.sniff import sniff
from parsers.text import spoken_list

log = logging.getLogger(__name__)

CONVERTIBLE = ("doc", "odt", "rtf")
PICTURE_TYPES = ("jpeg", "png", "heic", "tiff", "webp", "bmp")

# The Vietnamese sentence for each problem code; safety.py's wording wins for
# the codes it shares, so a unit reads the same sentence whichever step failed.
# {forms} is the campaign's forms ("Mẫu 1 hoặc Mẫu 2"), {form} the form read.
MESSAGES = {
    "not_a_document": "Tệp đính kèm không phải văn bản Word; đề nghị đơn vị gửi {forms} "
                      "dưới dạng tệp Word (.docx hoặc .doc).",
    "needs_conversion": "Phòng GD&ĐT chưa đọc được tệp ở định dạng này; đề nghị đơn vị lưu văn bản "
                        "ở định dạng Word .docx rồi gửi lại.",
    "not_a_form": "Tệp không phải biểu mẫu báo cáo theo kế hoạch ({forms}); "
                  "đề nghị đơn vị gửi đúng mẫu.",
    "plan_with_blank_forms": "Tệp đính kèm là văn bản kế hoạch kèm các biểu mẫu còn để trống, chưa phải báo cáo "
                             "của đơn vị; đề nghị đơn vị điền thông tin vào {forms} rồi gửi lại.",
    "blank_forms": "Tệp đính kèm chỉ gồm các biểu mẫu còn để trống, chưa có thông tin của đơn vị; "
                   "đề nghị đơn vị điền thông tin vào {forms} rồi gửi lại.",
    "parse_error": "Phòng GD&ĐT chưa đọc được nội dung tệp; cán bộ của Phòng sẽ kiểm tra lại.",
    "scanned_pdf": "Tệp là bản chụp hoặc bản quét, Phòng GD&ĐT chưa đọc được số liệu từ đó; "
                   "đề nghị đơn vị gửi kèm tệp Word (.docx hoặc .doc) của báo cáo.",
    "not_a_page": "Ảnh không phải bản chụp biểu mẫu.",
    "ocr_review": "Lịch hoạt động được đọc từ bản chụp nên có thể chưa chính xác; đề nghị đơn vị "
                  "đối chiếu các hoạt động trong thư này hoặc gửi tệp Word (.docx hoặc .doc) của {form}.",
    "pages_not_read": "Tệp PDF có {total} trang; Phòng GD&ĐT chỉ đọc {read} trang đầu. Nếu biểu mẫu "
                      "nằm ở các trang sau, đề nghị đơn vị gửi riêng tệp biểu mẫu.",
    **{k: v for k, v in safety.MESSAGES.items() if k != "not_a_document"},
}

_SNIFFED = {
    "empty": "empty_file",
    "encrypted_office": "encrypted",
    "corrupt_zip": "corrupt_file",
}


def parse(data: bytes, context: ParseContext | None = None) -> Document:
    """Read one file's bytes as a campaign form; never raises for bad input."""
    ctx = context or ParseContext()
    formdefs = [definition_for(fid, ctx) for fid in ctx.forms]
    budget = docx_grid.Budget(cells=ctx.max_cells, paragraphs=ctx.max_paragraphs, chars=ctx.max_chars)
    doc = _parse_safely(data, ctx, formdefs, budget)
    doc.spent = (budget.spent_cells, budget.spent_paragraphs, budget.spent_chars)
    return doc


def _parse_safely(data: bytes, ctx: ParseContext, formdefs: list[dict], budget: docx_grid.Budget) -> Document:
    try:
        return _parse(data, ctx, formdefs, budget)
    except DocumentError as exc:
        return failed(exc.code, getattr(exc, "message", "") or MESSAGES.get(exc.code, ""), ctx=ctx)
    except (MemoryError, KeyboardInterrupt, SystemExit):
        raise
    except RecursionError:
        log.exception("parse failed (recursion)")
        return failed("parse_error", ctx=ctx)
    except Exception as exc:  # last resort: one bad file must not stop the intake
        if _is_document_error(exc):
            return failed(exc.code, getattr(exc, "message", "") or MESSAGES.get(exc.code, ""), ctx=ctx)
        log.exception("parse failed")
        return failed("parse_error", ctx=ctx)


def failed(code: str, message: str | None = None, field: str | None = None,
           ctx: ParseContext | None = None) -> Document:
    """A Document that is no form, with one problem (naming the forms of `ctx`'s campaign)."""
    text = message or MESSAGES.get(code, MESSAGES["parse_error"])
    if "{forms}" in text:
        text = text.replace("{forms}", forms_spoken(ctx or ParseContext()))
    return Document(form=None, problems=[Problem(code, text, field)])


def short_name(formdef: dict) -> str:
    """How a sentence names the form: "Mẫu 1" (`short`), else its name."""
    return formdef.get("short") or fd.form_name(formdef)


def forms_spoken(ctx: ParseContext) -> str:
    """The campaign's forms as a choice: "Mẫu 1 hoặc Mẫu 2"; ids when a definition cannot be read."""
    names = []
    for fid in ctx.forms:
        try:
            names.append(short_name(definition_for(fid, ctx)))
        except fd.FormDefError:
            names.append(fid)
    return spoken_list(names, "hoặc")


def read_content(data: bytes, ctx: ParseContext, budget: docx_grid.Budget | None = None) -> DocxContent | Document:
    """Bytes → DocxContent, converting old formats; a Document (form=None) when it cannot."""
    if len(data) > ctx.max_bytes:
        return failed("too_large", ctx=ctx)
    kind = sniff(data)
    if kind in _SNIFFED:
        return failed(_SNIFFED[kind], ctx=ctx)
    if kind in CONVERTIBLE:
        convert = importlib.import_module("parsers.convert")
        try:
            data = convert.to_docx(data, kind, ctx.convert_timeout)
        except convert.ConversionUnavailable:
            return failed("needs_conversion", ctx=ctx)
        kind = sniff(data)
        if kind != "docx":
            return failed("corrupt_file", ctx=ctx)
    elif kind == "pdf":
        return _read_pdf(data, ctx)
    elif kind in PICTURE_TYPES:
        return _read_picture(data, ctx)
    elif kind != "docx":
        return failed("not_a_document", ctx=ctx)
    return docx_grid.read_docx(data, budget, ctx.zip)


def _read_pdf(data: bytes, ctx: ParseContext) -> DocxContent | Document:
    """A PDF's text layer as blocks; a PDF of page images is not read here."""
    from parsers import pdf

    result = pdf.read_pdf(data, ctx.max_pdf_pages)
    content, read = result.content, result.pages_read
    if not content.blocks:  # a scan saved as PDF: its pages are pictures
        ocr = importlib.import_module("parsers.ocr")
        if not ctx.ocr or not ocr.available():
            return failed("scanned_pdf", ctx=ctx)
        read = min(result.pages_total, ctx.max_ocr_pages)
        content = ocr.read_pictures(ocr.render_pdf_pages(data, list(range(read))), ctx.ocr_page_timeout)
    if result.pages_total > read:
        content.notes.append(Problem("pages_not_read", MESSAGES["pages_not_read"].format(
            read=read, total=result.pages_total)))
    return content


def _read_picture(data: bytes, ctx: ParseContext) -> DocxContent | Document:
    """A photo or scan of a printed page; an ordinary photo is turned away before any OCR."""
    ocr = importlib.import_module("parsers.ocr")
    if not ocr.glance(data):
        return failed("not_a_page", ctx=ctx)
    img = ocr.load(data)
    if not ctx.ocr or not ocr.available():
        return failed("scanned_pdf", ctx=ctx)
    return ocr.read_pictures([img], ctx.ocr_page_timeout)


def _parse(data: bytes, ctx: ParseContext, formdefs: list[dict], budget: docx_grid.Budget) -> Document:
    content = read_content(data, ctx, budget)
    if isinstance(content, Document):
        return content
    form_id, why = decide(content, formdefs, ctx)
    if form_id is None:
        return failed(why, ctx=ctx)
    formdef = next(f for f in formdefs if f.get("id") == form_id)
    reader = form_reader.read
    doc = reader(content, formdef, ctx)
    doc.form = form_id
    doc.source = getattr(content, "source", "docx")
    if doc.source == "ocr":
        ocr = importlib.import_module("parsers.ocr")
        if doc.kind == "indicators":
            ocr.judge(doc, content, lambda c: reader(c, formdef, ctx), formdef)
        else:  # no figure to vouch for: every line of a schedule read from a picture is checked by a person
            field = "activities" if doc.kind == "schedule" else "rows"
            doc.problems.append(Problem("ocr_review", MESSAGES["ocr_review"].format(form=short_name(formdef)), field))
    doc.problems.extend(getattr(content, "notes", ()))
    return doc


def _is_document_error(exc: BaseException | None) -> bool:
    """convert.py may raise its own DocumentError class: recognise it by shape."""
    return (exc is not None and type(exc).__name__ == "DocumentError"
            and isinstance(getattr(exc, "code", None), str))
