import pytest
from pydantic import BaseModel, ValidationError

from aicore import errors
from aicore.envelope import ERRORS, ErrorSpec, operation


class _Body(BaseModel):
    count: int


def test_success_is_wrapped_with_timing() -> None:
    with operation("things.get", "corr-1") as op:
        op.succeed(_Body(count=3))
    assert op.envelope is not None
    assert op.envelope.ok
    assert op.status == 200
    assert op.envelope.data == {"count": 3}
    assert op.envelope.service == "aicore"
    assert op.envelope.correlation_id == "corr-1"
    assert op.envelope.duration_ms >= 0


@pytest.mark.parametrize(("exc_type", "spec"), ERRORS)
def test_each_domain_error_maps_to_its_code(exc_type: type[errors.AicoreError], spec: ErrorSpec) -> None:
    with operation("x", "c") as op:
        raise exc_type("what to do", {"hint": 1})
    assert op.envelope is not None
    assert op.envelope.error is not None
    assert (op.envelope.error.code, op.status) == (spec.code, spec.status)
    assert op.envelope.error.message == "what to do"
    assert op.envelope.error.details == {"hint": 1}


def test_validation_errors_name_fields_without_echoing_input() -> None:
    with operation("x", "c") as op:
        try:
            _Body.model_validate({"count": "secret-value"})
        except ValidationError:
            raise
    assert op.envelope is not None
    assert op.envelope.error is not None
    assert op.status == 400
    assert op.envelope.error.code == "invalid_request"
    assert "count" in op.envelope.error.message
    assert "secret-value" not in op.envelope.model_dump_json()


def test_unexpected_failure_is_internal_with_no_trace() -> None:
    with operation("x", "corr-9") as op:
        raise KeyError("deep internal detail")
    assert op.envelope is not None
    assert op.envelope.error is not None
    assert op.status == 500
    assert op.envelope.error.code == "internal_error"
    assert "corr-9" in op.envelope.error.message
    assert "deep internal detail" not in op.envelope.model_dump_json()
