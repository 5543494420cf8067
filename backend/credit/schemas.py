from apiflask import Schema
from apiflask.fields import File, Float, Integer, List, String


class ImportUploadIn(Schema):
    file = File(required=True, metadata={"description": "信用平台导出的 CSV（UTF-8，含表头）"})


class ImportJobOut(Schema):
    id = Integer()
    status = String(metadata={"description": "pending / running / done / failed"})
    total_rows = Integer(allow_none=True)
    processed_rows = Integer()
    rejected_rows = Integer()
    percent = Float()
    started_at = String()
    finished_at = String(allow_none=True)
    errors = List(String())
