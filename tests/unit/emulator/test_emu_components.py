"""Fault decisions, tokens, the Responses stream, configuration and certificates."""

from __future__ import annotations

import json
import ssl
import time
from pathlib import Path

import pytest
from cryptography import x509

from foundry_devtools.emulator.config import (
    EmulatorConfig,
    FaultKind,
    FaultRule,
    load_config,
    merge_runtime_patch,
)
from foundry_devtools.emulator.faults import FaultInjector
from foundry_devtools.emulator.identity import TokenIssuer, normalize_audience
from foundry_devtools.emulator.responses import build_response, input_text, stream_events
from foundry_devtools.emulator.runner import render_env_file
from foundry_devtools.emulator.stats import RequestStats
from foundry_devtools.emulator.tls import ensure_tls

pytestmark = pytest.mark.unit


# ----------------------------------------------------------------- faults


def test_a_counted_fault_fires_exactly_that_many_times_then_retires() -> None:
    injector = FaultInjector([FaultRule(kind=FaultKind.STATUS, status=429, count=2)])
    decisions = [injector.decide("get_agent") for _ in range(3)]
    assert [d.status for d in decisions] == [429, 429, None]
    assert decisions[0].retry_after == 1.0 and decisions[0].code == "rate_limit_exceeded"
    assert injector.list() == []


def test_an_apply_then_fail_fault_lets_the_request_through_before_failing_it() -> None:
    injector = FaultInjector([FaultRule(kind=FaultKind.APPLY_THEN_STATUS, status=500)])
    decision = injector.decide("create_version")
    assert decision.status == 500 and decision.after
    plain = FaultInjector([FaultRule(kind=FaultKind.STATUS, status=500)]).decide("get_agent")
    assert plain.status == 500 and not plain.after


def test_faults_can_target_operations() -> None:
    injector = FaultInjector([FaultRule(kind=FaultKind.DROP, operations=["create_version"])])
    assert not injector.decide("get_agent").drop
    assert injector.decide("create_version").drop


def test_the_token_endpoint_is_faulted_only_when_named() -> None:
    injector = FaultInjector([FaultRule(kind=FaultKind.STATUS, status=500)])
    assert injector.decide("token").status is None
    injector.add(FaultRule(kind=FaultKind.STATUS, status=503, operations=["token"]))
    assert injector.decide("token").status == 503


def test_latency_adds_up_and_combines_with_a_status() -> None:
    injector = FaultInjector(
        [
            FaultRule(kind=FaultKind.LATENCY, latency_ms=100),
            FaultRule(kind=FaultKind.LATENCY, latency_ms=50, jitter_ms=10),
            FaultRule(kind=FaultKind.STATUS, status=500),
        ],
        seed=1,
    )
    decision = injector.decide("get_version")
    assert 0.15 <= decision.delay_seconds <= 0.16
    assert decision.status == 500 and decision.code == "server_error"


def test_a_rate_fires_about_that_often() -> None:
    injector = FaultInjector([FaultRule(kind=FaultKind.STATUS, rate=0.25)], seed=7)
    fired = sum(injector.decide("get_agent").status is not None for _ in range(4000))
    assert 800 < fired < 1200


def test_fault_ids_are_unique_even_when_reused() -> None:
    injector = FaultInjector()
    first = injector.add(FaultRule(id="x", kind=FaultKind.DROP))
    second = injector.add(FaultRule(id="x", kind=FaultKind.DROP))
    assert first.id == "x" and second.id != "x"
    assert injector.remove("x") and not injector.remove("x")


# ----------------------------------------------------------------- tokens


def test_issued_tokens_verify_and_carry_their_audience() -> None:
    issuer = TokenIssuer(b"k" * 32)
    token, expires_on = issuer.issue("https://ai.azure.com/.default", 3600)
    claims = issuer.verify(token)
    assert claims is not None and claims.audience == "https://ai.azure.com"
    assert abs(expires_on - (time.time() + 3600)) < 5


def test_tampered_foreign_and_expired_tokens_are_rejected() -> None:
    issuer = TokenIssuer(b"k" * 32)
    token, _ = issuer.issue("https://ai.azure.com", 3600)
    head, body, signature = token.split(".")
    assert issuer.verify(f"{head}.{body}x.{signature}") is None
    assert TokenIssuer(b"other" * 8).verify(token) is None
    assert issuer.verify("eyJhbGciOi.not.ours") is None
    expired, _ = issuer.issue("https://ai.azure.com", -1)
    assert issuer.verify(expired) is None


@pytest.mark.parametrize(
    "resource", ["https://ai.azure.com", "https://ai.azure.com/", "https://ai.azure.com/.default"]
)
def test_audience_spellings_normalize_alike(resource: str) -> None:
    assert normalize_audience(resource) == "https://ai.azure.com"


# ------------------------------------------------------------- responses


def test_input_text_reads_strings_and_the_last_user_message() -> None:
    assert input_text({"input": "hi"}) == "hi"
    items = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "reply"},
        {"role": "user", "content": [{"type": "input_text", "text": "second"}]},
    ]
    assert input_text({"input": items}) == "second"


def test_stream_deltas_reassemble_the_final_text_in_order() -> None:
    final = build_response(agent="echo", version="3", body={"input": "a b  c"}, session_id=None)
    events = stream_events(final)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    text = "".join(data["delta"] for kind, data in events if kind == "response.output_text.delta")
    assert text == final["output"][0]["content"][0]["text"] == "[echo v3] echo: a b  c"


# ----------------------------------------------------------------- config


def test_config_loads_yaml_and_json(tmp_path: Path) -> None:
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text(
        "lifecycle:\n  provisioning_seconds: 0\nfailure_rules:\n"
        "  - match: '*broken*'\n    code: AcrImageNotFound\n",
        encoding="utf-8",
    )
    config = load_config(yaml_file)
    assert config.lifecycle.provisioning_seconds == 0
    assert config.effective_failure_rules()[0].code == "AcrImageNotFound"
    json_file = tmp_path / "c.json"
    json_file.write_text(json.dumps({"include_default_failure_rules": False}), encoding="utf-8")
    assert load_config(json_file).effective_failure_rules() == []


def test_config_typos_fail_loudly(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("lifecycle:\n  provisioning_second: 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="provisioning_second"):
        load_config(path)


def test_runtime_patches_merge_sections_and_refuse_fixed_ones() -> None:
    config = merge_runtime_patch(EmulatorConfig(), {"lifecycle": {"provisioning_seconds": 3}})
    assert config.lifecycle.provisioning_seconds == 3
    assert config.lifecycle.identical_definition.value == "new_version"
    with pytest.raises(ValueError, match="admin_token"):
        merge_runtime_patch(EmulatorConfig(), {"admin_token": "x"})


# ------------------------------------------------------------ tls and env


def test_the_server_certificate_chains_to_the_ca_for_loopback_names(tmp_path: Path) -> None:
    files = ensure_tls(tmp_path, ["127.0.0.1", "localhost"])
    cert = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    context = files.client_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert files.ca_bundle.read_bytes().startswith(files.ca_cert.read_bytes())


def test_the_ca_is_reused_and_the_server_cert_reissued_for_new_names(tmp_path: Path) -> None:
    first = ensure_tls(tmp_path, ["127.0.0.1"])
    ca, server = first.ca_cert.read_bytes(), first.server_cert.read_bytes()
    again = ensure_tls(tmp_path, ["127.0.0.1"])
    assert (again.ca_cert.read_bytes(), again.server_cert.read_bytes()) == (ca, server)
    renamed = ensure_tls(tmp_path, ["127.0.0.1", "emulator.local"])
    assert renamed.ca_cert.read_bytes() == ca
    assert renamed.server_cert.read_bytes() != server


def test_the_env_file_is_shell_quoted() -> None:
    text = render_env_file({"A": "plain", "B": "it's spaced"})
    assert "export A=plain\n" in text
    assert "export B='it'\"'\"'s spaced'\n" in text


# ----------------------------------------------------------------- stats


def test_stats_count_writes_apart_from_reads() -> None:
    stats = RequestStats()
    stats.record("get_agent", 200, method="GET")
    stats.record("list_versions", 404)
    stats.record("create_version", 200, method="POST")
    stats.record("update_details", "dropped", method="PATCH")
    assert stats.snapshot()["writes"] == 2 and stats.snapshot()["total"] == 4
    stats.reset()
    assert stats.snapshot()["writes"] == 0
