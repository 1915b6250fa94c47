"""Property-based fuzzing of every operation in the service's own OpenAPI document (schemathesis):
whatever is sent, the answer is never a server error. Admin operations are fuzzed with a valid key,
so that the fuzzer gets past authentication into the request bodies."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup  # a BaseExceptionGroup: `except Exception` misses it

from app.payments.service import PAYMENTS_FEATURE
from tests.simulators.chain.chain_harness import TREASURY_KEY
from tests.support.service import RunningService, new_admin_key

pytestmark = [
    pytest.mark.slow,
    # Raised by schemathesis's own examples strategy, not by anything here.
    pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies"),
]
MAX_EXAMPLES = 30
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


@pytest.fixture(scope="module")
def admin_key(db_url: str) -> str:
    return new_admin_key(db_url)


@pytest.fixture
def flags_restored(db) -> Iterator[None]:
    """The fuzzer may switch the payments flag off or add flags: the session service is shared."""
    existing = {row[0] for row in db.execute("SELECT feature FROM feature_flags").fetchall()}
    try:
        yield
    finally:
        db.execute("DELETE FROM feature_flags WHERE NOT (feature = ANY(%s))", (list(existing),))
        db.execute(
            "UPDATE feature_flags SET enabled = true, percentage = 100, updated_by = 'tests' WHERE feature = %s",
            (PAYMENTS_FEATURE,),
        )


def _fuzz(operation: APIOperation, mode: GenerationMode, base_url: str, headers: dict[str, str]) -> Counter[int]:
    """Up to MAX_EXAMPLES generated requests against one operation (valid ones include the documented
    examples); the statuses answered."""
    strategy = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.POSITIVE:
        strategy = st.one_of(strategy, *operation.schema.get_strategies_from_examples(operation))
    statuses: Counter[int] = Counter()

    @given(case=strategy, fresh_key=st.booleans())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case, fresh_key: bool) -> None:
        # The schema cannot say what a good Idempotency-Key is; half the time send one, so that bodies that
        # pass validation go all the way to Daraja (the simulator).
        extra = {**headers, "Idempotency-Key": uuid.uuid4().hex} if fresh_key else headers
        response = case.call(base_url=base_url, headers=extra, timeout=15)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=[not_a_server_error])

    run()
    return statuses


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_input_makes_a_server_error(
    capsys: pytest.CaptureFixture[str], service_factory, chain_url, sim, admin_key: str, flags_restored, mode
):
    # With a chain to ask, so that /api/blockchain/health's 503 would mean a fault, not a missing node.
    service: RunningService = service_factory(chain_rpc_url=chain_url, treasury_private_key=TREASURY_KEY)
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json", timeout=10)
    operations = [result.ok() for result in schema.get_all_operations()]
    documented = {
        f"{method.upper()} {path}"
        for path, item in service.http.get("/openapi.json").json()["paths"].items()
        for method in item
        if method in METHODS
    }
    assert {operation.label for operation in operations} == documented

    answered: dict[str, Counter[int]] = {}
    nothing_to_negate: list[str] = []
    failures: list[str] = []
    for operation in operations:
        headers = {"x-api-key": admin_key} if operation.path.startswith("/api/admin") else {}
        try:
            answered[operation.label] = _fuzz(operation, mode, service.url, headers)
        except Unsatisfiable:
            # No parameter or body whose schema can be violated (e.g. GET /api/health): nothing invalid to send.
            assert mode is GenerationMode.NEGATIVE, operation.label
            nothing_to_negate.append(operation.label)
        except (FailureGroup, Exception) as exc:  # the shrunk failing example, reported with the others'
            failures.append(f"{operation.label}: {exc}")

    with capsys.disabled():  # the tally, shown even when the test passes
        total = sum(sum(statuses.values()) for statuses in answered.values())
        print(f"\nschemathesis ({mode.value}): {len(answered)} operations, {total} requests; statuses:")
        for label, statuses in sorted(answered.items()):
            print(f"  {label}: {dict(sorted(statuses.items()))}")
    assert not failures, "\n\n".join(failures)
    if mode is GenerationMode.POSITIVE:
        assert set(answered) == documented
        assert answered["GET /api/admin/feature-flags"][200] >= 1  # the key got the fuzzer past authentication
    else:
        assert {"POST /api/payments", "POST /api/admin/feature-flags"} <= set(answered)
