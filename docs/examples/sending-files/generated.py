import csv
import io

from trioweb import App, Response, send_file

app = App(__name__)
SALES = [("Q1", 900), ("Q2", 1100), ("Q3", 1200)]


@app.get("/export")
async def export() -> Response:
    text = io.StringIO()
    csv.writer(text).writerows([("quarter", "revenue"), *SALES])
    return await send_file(
        io.BytesIO(text.getvalue().encode()),
        mimetype="text/csv",
        as_attachment=True,
        download_name="Umsätze 2026.csv",
    )
