from apiflask import Schema
from apiflask.fields import File, Float, Integer, List, String
from apiflask.validators import OneOf


class ImportUploadIn(Schema):
    file = File(required=True, metadata={
        "description": "信用平台导出的文件或填好的导入模板：CSV（UTF-8 或 GBK/GB18030）或 XLSX，含表头（中文或英文列名）"})


class TemplateQuery(Schema):
    format = String(load_default="xlsx", validate=OneOf(("xlsx", "csv")),
                    metadata={"description": "xlsx（默认，含填写说明）或 csv（UTF-8，带 BOM）"})


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
