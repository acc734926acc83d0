import pytest
from pydantic import BaseModel, ValidationError

from aicore import errors
from aicore.envelope import ERRORS, INTERNAL, ErrorSpec, operation


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


@pytest.mark.parametrize(("exc_type", "spec"), ERRORS.items())
def test_each_domain_error_maps_to_its_code(exc_type: type[errors.AicoreError], spec: ErrorSpec) -> None:
    with operation("x", "c") as op:
        raise exc_type("what to do", {"hint": 1})
    assert op.envelope is not None
    assert op.envelope.error is not None
    assert (op.envelope.error.code, op.status) == (spec.code, spec.status)
    assert op.envelope.error.message == "what to do"
    assert op.envelope.error.details == {"hint": 1}


def _all_subclasses(cls: type[errors.AicoreError]) -> set[type[errors.AicoreError]]:
    direct = set(cls.__subclasses__())
    return direct.union(*(_all_subclasses(sub) for sub in direct))


def _import_every_aicore_module() -> None:
    """Subclasses live all over the library (e.g. `SessionNotLive`): load them all first."""
    import importlib
    import pkgutil

    import aicore

    for module in pkgutil.walk_packages(aicore.__path__, "aicore."):
        if not module.name.startswith("aicore.local"):
            importlib.import_module(module.name)


_import_every_aicore_module()


SUBCLASSES: list[type[errors.AicoreError]] = sorted(
    _all_subclasses(errors.AicoreError), key=lambda c: f"{c.__module__}.{c.__qualname__}"
)


@pytest.mark.parametrize("exc_type", SUBCLASSES, ids=lambda c: c.__qualname__)
def test_every_subclass_answers_in_the_envelope_with_its_nearest_listed_code(
    exc_type: type[errors.AicoreError],
) -> None:
    # Given any domain error, listed in the table or not (a subclass may take extra arguments)
    exc = exc_type.__new__(exc_type)
    errors.AicoreError.__init__(exc, "what to do")
    # When an operation raises it
    with operation("x", "c") as op:
        raise exc
    # Then the answer uses the code of its nearest listed ancestor (or internal_error), and its message
    expected = next((ERRORS[cls] for cls in exc_type.__mro__ if cls in ERRORS), INTERNAL)
    assert op.envelope is not None
    assert op.envelope.error is not None
    assert (op.envelope.error.code, op.status) == (expected.code, expected.status)
    assert op.envelope.error.message == "what to do"


def test_an_unlisted_domain_error_falls_back_to_internal_error() -> None:
    class Unlisted(errors.AicoreError):
        pass

    with operation("x", "c") as op:
        raise Unlisted("careful")
    assert op.envelope is not None
    assert op.envelope.error is not None
    assert (op.envelope.error.code, op.status) == ("internal_error", 500)
    assert op.envelope.error.message == "careful"


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
