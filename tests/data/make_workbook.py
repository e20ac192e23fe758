"""Writes a workbook from a JSON description, for tests/spreadsheet_cli.rs.

    python make_workbook.py SPEC.json OUT.xlsx|OUT.ods

SPEC: {"sheets": [{"name": "Fleet", "rows": [[cell, ...], ...],
                   "formulas": {"E5": ["=200+5", 205]}, "styled_empty": ["J30"]}]}
A cell is a string, a number, or null (empty); rows start at row 1. `formulas` put a formula
in a cell with the value a spreadsheet program would have cached for it (none for null, as
openpyxl writes them); `styled_empty` gives
empty cells a style, so the sheet's used range reaches past the data as real files' often does;
`"merged": ["E2:E3"]` merges cells and
`"hidden_rows": [3]` hides rows;
`"hidden": true` hides the sheet (a spreadsheet program shows its tab only on "Unhide").

.xlsx is written by openpyxl, which stores formulas without a cached value (it computes
nothing), so the cached values are written into the sheet XML afterwards, as Excel would.
.ods is written with the standard library: mimetype, manifest and content.xml, with
LibreOffice's repeated empty rows and columns after the data.
"""

import json
import re
import sys
import zipfile
from xml.sax.saxutils import escape


def cell_ref(ref):
    m = re.fullmatch(r"([A-Z]+)(\d+)", ref)
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)), col


def write_xlsx(spec, out):
    import openpyxl
    from openpyxl.styles import Font

    book = openpyxl.Workbook()
    book.remove(book.active)
    cached = {}
    for index, sheet in enumerate(spec["sheets"]):
        ws = book.create_sheet(sheet["name"])
        if sheet.get("hidden"):
            ws.sheet_state = "hidden"
        for r, row in enumerate(sheet["rows"], start=1):
            for c, value in enumerate(row, start=1):
                if value is not None:
                    ws.cell(row=r, column=c, value=value)
        for ref, (formula, value) in sheet.get("formulas", {}).items():
            ws[ref] = formula
            if value is not None:
                cached[(index + 1, ref)] = value
        for ref in sheet.get("styled_empty", []):
            ws[ref].font = Font(bold=True)
        for region in sheet.get("merged", []):
            ws.merge_cells(region)
        for row in sheet.get("hidden_rows", []):
            ws.row_dimensions[row].hidden = True
    book.save(out)
    if not cached:
        return
    with zipfile.ZipFile(out) as z:
        parts = {name: z.read(name) for name in z.namelist()}
    for (sheet, ref), value in cached.items():
        name = f"xl/worksheets/sheet{sheet}.xml"
        xml = parts[name].decode()
        pattern = re.compile(r'(<c r="%s"[^>]*>)(<f>[^<]*</f>)(<v\s*/>|<v></v>)?' % ref)
        assert pattern.search(xml), (ref, xml)
        xml = pattern.sub(lambda m: m.group(1) + m.group(2) + "<v>%s</v>" % value, xml)
        parts[name] = xml.encode()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)


def ods_cell(value, formula=None, span=None):
    attrs = ""
    if span is not None:
        attrs += ' table:number-rows-spanned="%d" table:number-columns-spanned="%d"' % span
    if formula is not None:
        attrs += ' table:formula="of:%s"' % escape(formula, {'"': "&quot;"})
    if value is None:
        return "<table:table-cell%s/>" % attrs
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (
            '<table:table-cell office:value-type="float" office:value="%r"%s>'
            "<text:p>%r</text:p></table:table-cell>" % (value, attrs, value)
        )
    return (
        '<table:table-cell office:value-type="string"%s><text:p>%s</text:p></table:table-cell>'
        % (attrs, escape(value))
    )


def write_ods(spec, out):
    tables = []
    for sheet in spec["sheets"]:
        formulas = {cell_ref(ref): f for ref, f in sheet.get("formulas", {}).items()}
        spans, covered = {}, set()
        for region in sheet.get("merged", []):
            (r0, c0), (r1, c1) = (cell_ref(ref) for ref in region.split(":"))
            spans[(r0, c0)] = (r1 - r0 + 1, c1 - c0 + 1)
            covered |= {(r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)}
            covered.discard((r0, c0))
        hidden = set(sheet.get("hidden_rows", []))
        rows = []
        for r, row in enumerate(sheet["rows"], start=1):
            cells = []
            for c, value in enumerate(row, start=1):
                formula = formulas.get((r, c))
                if (r, c) in covered:
                    cells.append("<table:covered-table-cell/>")
                elif formula is not None:
                    cells.append(ods_cell(formula[1], formula[0].lstrip("="), spans.get((r, c))))
                else:
                    cells.append(ods_cell(value, span=spans.get((r, c))))
            cells.append('<table:table-cell table:number-columns-repeated="1000"/>')
            visibility = ' table:visibility="collapse"' if r in hidden else ""
            rows.append(
                "<table:table-row%s>%s</table:table-row>" % (visibility, "".join(cells))
            )
        rows.append(
            '<table:table-row table:number-rows-repeated="1048000">'
            '<table:table-cell table:number-columns-repeated="1024"/></table:table-row>'
        )
        style = ' table:style-name="hidden"' if sheet.get("hidden") else ""
        tables.append(
            '<table:table table:name="%s"%s>%s</table:table>'
            % (escape(sheet["name"], {'"': "&quot;"}), style, "".join(rows))
        )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content'
        ' xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
        ' xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"'
        ' office:version="1.3">'
        '<office:automatic-styles><style:style style:name="hidden" style:family="table">'
        '<style:table-properties table:display="false"/></style:style></office:automatic-styles>'
        "<office:body><office:spreadsheet>%s</office:spreadsheet></office:body>"
        "</office:document-content>" % "".join(tables)
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"'
        ' manifest:version="1.3">'
        '<manifest:file-entry manifest:full-path="/"'
        ' manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(out, "w") as z:
        # The mimetype comes first and uncompressed, as the OpenDocument format requires.
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        z.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", content, zipfile.ZIP_DEFLATED)


def main():
    spec = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    if out.endswith(".ods"):
        write_ods(spec, out)
    else:
        write_xlsx(spec, out)


main()
