"""An invoice as a PDF (fpdf2: pure Python, no system libraries).

The built-in PDF fonts cover Latin-1; other characters are replaced by ``?``.
"""

from __future__ import annotations

from fpdf import FPDF

from fitsync.billing.schemas import InvoiceOut


def _t(value: object) -> str:
    return str(value).encode("latin-1", "replace").decode("latin-1")


def _money(amount: int, currency: str) -> str:
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    return f"{sign}{whole:,}.{cents:02d} {currency}"


def render(invoice: InvoiceOut, *, gym_name: str, client_name: str | None) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title(f"Invoice {invoice.number}")
    pdf.set_creator("FitSync")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, _t(gym_name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    kind = "Receipt" if invoice.status in ("paid", "refunded") else "Invoice"
    pdf.cell(0, 7, _t(f"{kind} no. {invoice.number}"), new_x="LMARGIN", new_y="NEXT")
    if invoice.issued_at:
        pdf.cell(0, 7, f"Issued: {invoice.issued_at:%Y-%m-%d}", new_x="LMARGIN", new_y="NEXT")
    if client_name:
        pdf.cell(0, 7, _t(f"Billed to: {client_name}"), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 7, _t(f"Status: {invoice.status}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    widths = (80, 15, 30, 20, 35)
    pdf.set_font("Helvetica", "B", 10)
    for width, title in zip(widths, ("Item", "Qty", "Unit price", "Tax %", "Amount"), strict=True):
        pdf.cell(width, 8, title, border="B")
    pdf.ln()
    pdf.set_font("Helvetica", "", 10)
    for line in invoice.lines:
        cells = (
            line.description[:48],
            str(line.quantity),
            _money(line.unit_price, invoice.currency),
            f"{line.tax_rate_bp / 100:.2f}",
            _money(line.total, invoice.currency),
        )
        for width, value in zip(widths, cells, strict=True):
            pdf.cell(width, 7, _t(value))
        pdf.ln()
        if line.discount:
            pdf.cell(widths[0], 6, _t(f"   discount -{_money(line.discount, invoice.currency)}"))
            pdf.ln()
    pdf.ln(3)
    totals = [
        ("Net", invoice.subtotal),
        ("Tax", invoice.tax),
        ("Total", invoice.total),
        ("Paid", invoice.amount_paid),
    ]
    if invoice.amount_refunded:
        totals.append(("Refunded", invoice.amount_refunded))
    for label, amount in totals:
        pdf.cell(sum(widths[:4]), 7, label, align="R")
        pdf.cell(widths[4], 7, _t(_money(amount, invoice.currency)))
        pdf.ln()
    pdf.ln(4)
    pdf.set_font("Helvetica", "I", 8)
    mode = "include" if invoice.tax_mode == "inclusive" else "exclude"
    pdf.multi_cell(
        0,
        5,
        f"Prices {mode} tax. Tax is computed per line and rounded to the cent, half away"
        " from zero.",
    )
    return bytes(pdf.output())
