"""BEACON_CONFIG is validated on start, and a mistake names its key."""

import subprocess
import sys
from pathlib import Path

import pytest

from services.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]


def test_the_sample_config_is_valid_and_uses_the_itil_matrix():
    config = load_config(ROOT / "config" / "beacon.yaml")
    assert config.priority_matrix["high"]["high"] == "P1"
    assert config.priority_matrix["low"]["low"] == "P5"
    assert config.communications.responder_update_high.total_seconds() == 3600
    assert config.communications.responder_update_other.total_seconds() == 3 * 3600
    assert config.communications.stakeholder_update.total_seconds() == 2 * 3600


@pytest.mark.parametrize(("data", "named"), [
    ({"priority_matrix": {"high": {"high": "P1"}}}, "priority_matrix.high.medium"),
    ({"communications": {"grace": "ten minutes"}}, "communications.grace"),
    ({"channels": {"incident_channel": "x"}}, "channels.incident_channel"),
    ({"channels": {"dedicated_for": ["P1", "Sev1"]}}, "channels.dedicated_for.1: 'Sev1' is not a priority"),
    ({"services": [{"name": "a", "criticality": "severe"}]}, "services.0.criticality"),
    ({"services": [{"name": "a", "team": "ghosts"}], "directory": {"teams": [{"name": "web"}]}},
     "services.0.team"),
    ({"directory": {"clients": [{"aliases": []}]}}, "directory.clients.0.name"),
])
def test_a_bad_value_is_reported_with_its_key(data, named):
    with pytest.raises(ConfigError) as error:
        parse_config(data, "beacon.yaml")
    assert f"beacon.yaml: {named}" in str(error.value) or f"beacon.yaml: (top level): {named}" in str(
        error.value)


def test_durations_must_be_iso_8601_and_positive():
    assert parse_config({"communications": {"grace": "PT2S"}}).communications.grace.total_seconds() == 2
    with pytest.raises(ConfigError):
        parse_config({"communications": {"grace": "PT0S"}})
    # Months and years have no fixed length: refused with the reason, not a crash comparing them.
    for calendar in ("P1M", "P1Y"):
        with pytest.raises(ConfigError, match="days, hours, minutes or seconds"):
            parse_config({"communications": {"grace": calendar}})


def test_the_config_version_is_recorded_as_a_fingerprint():
    a = parse_config({"version": "7"})
    b = parse_config({"version": "7", "communications": {"grace": "PT5M"}})
    assert a.fingerprint().startswith("7-") and a.fingerprint() != b.fingerprint()


def test_beacon_does_not_start_with_a_bad_config(tmp_path):
    bad = tmp_path / "beacon.yaml"
    bad.write_text("communications:\n  grace: soon\n")
    result = subprocess.run([sys.executable, str(ROOT / "app.py")], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60,
                            env={"BEACON_CONFIG": str(bad), "PATH": "/usr/bin:/bin",
                                 "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"})
    assert result.returncode == 2
    assert "communications.grace" in result.stderr and "ISO 8601" in result.stderr


ONCALL_DIRECTORY = {"teams": [{"name": "payments", "members": [{"name": "Ada", "email": "ada@contoso.com"}]}]}


@pytest.mark.parametrize(("oncall", "services", "message"), [
    ({"schedules": [{"name": "p", "people": ["ada@contoso.com", "nobody@contoso.com"]}]}, [],
     "oncall.schedules[0].people[1]: 'nobody@contoso.com' is not in the directory"),
    ({"schedules": [{"name": "p", "time_zone": "Europe/Londn", "people": ["ada@contoso.com"]}]}, [],
     "'Europe/Londn' is not an IANA time zone"),
    ({"schedules": [{"name": "p", "handoff": "25:00", "people": ["ada@contoso.com"]}]}, [], "is not a local time"),
    ({"escalation_policies": [{"name": "pay", "levels": [{"notify": ["schedule:ghost"]}]}]}, [],
     "oncall.escalation_policies[0].levels[0].notify[0]: 'ghost' is not in oncall.schedules"),
    ({"escalation_policies": [{"name": "pay", "levels": [{"notify": ["team:payments"], "methods": ["pigeon"]}]}]},
     [], "methods"),
    ({"escalation_policies": [{"name": "pay", "levels": [{"notify": ["someone"]}]}]}, [],
     "must be schedule:<name>, person:<email or aad id> or team:<directory team>"),
    ({}, [{"name": "payments-api", "escalation_policy": "nope"}],
     "services[0].escalation_policy: 'nope' is not in oncall.escalation_policies"),
    ({"page_priorities": ["P9"]}, [], "oncall.page_priorities[0]: 'P9' is not a priority of priority_matrix"),
])
def test_a_paging_reference_to_nothing_stops_start_up_with_its_key(oncall, services, message):
    with pytest.raises(ConfigError) as error:
        parse_config({"directory": ONCALL_DIRECTORY, "oncall": oncall, "services": services}, "beacon.yaml")
    assert message in str(error.value) and str(error.value).startswith("beacon.yaml: ")


def test_every_paging_method_is_accepted_including_voice():
    config = parse_config({"directory": ONCALL_DIRECTORY, "oncall": {
        "schedules": [{"name": "p", "time_zone": "America/New_York", "shift": "PT12H", "handoff": "08:30",
                       "start": "2026-11-30", "people": ["ADA@contoso.com"]}],
        "escalation_policies": [{"name": "pay", "repeat": 2, "levels": [
            {"notify": ["schedule:p", "team:payments", "person:ada@contoso.com"],
             "methods": ["teams", "sms", "voice", "email"], "after": "PT3S"}]}],
        "page_priorities": ["P1"]}, "services": [{"name": "payments-api", "escalation_policy": "pay"}]})
    level = config.oncall.policy("pay").levels[0]
    assert level.methods == ["teams", "sms", "voice", "email"] and level.after.total_seconds() == 3
