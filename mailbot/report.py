"""What the office takes out of mailbot: exports, the consolidated report, the combined schedule, photos.

All figures come from the records: the current accepted submission of
each unit and form counts, a superseded one never does. Each output lives
in its own module; this one is the single door the CLI goes through.

    export_json / export_csv / export_xlsx     report_export.py
    report_json / report_xlsx                  report_mau2.py
    report_docx                                report_docx.py
    schedule_xlsx / schedule_ics               report_schedule.py
    photo_index / photos_zip                   report_photos.py
"""
from __future__ import annotations

from mailbot.report_docx import report_docx
from mailbot.report_export import export_csv, export_json, export_xlsx
from mailbot.report_mau2 import consolidate, report_json, report_xlsx
from mailbot.report_photos import photo_index, photos_zip
from mailbot.report_schedule import activities, schedule_ics, schedule_xlsx

__all__ = [
    "activities", "consolidate", "export_csv", "export_json", "export_xlsx", "photo_index", "photos_zip",
    "report_docx", "report_json", "report_xlsx", "schedule_ics", "schedule_xlsx",
]
