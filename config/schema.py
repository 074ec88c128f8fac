"""The JSON Schema of plan format v1, for editors that complete and check plans.

The schema describes the file as written (dates, durations and times are text);
``pactkeeper validate`` checks more than a schema can (references, dates inside
the project, configured channels), so a plan can pass the schema and still fail.
"""

from __future__ import annotations

from typing import Any

from config.plan import Plan

SCHEMA_ID = "https://pactkeeper.example/schema/plan-v1.json"


def plan_schema() -> dict[str, Any]:
    schema = Plan.model_json_schema(mode="validation", by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "pactkeeper plan, format v1",
    }
