"""Whom a page by hand for a team reaches: its own schedule, else the schedules its services'
policies page first, else its members; nobody on call falls back to the members."""

from datetime import UTC, datetime

from services.config import parse_config
from services.paging.manual import PageTarget, reach, team_schedules

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
PEOPLE = [{"name": "Ada", "email": "ada@x.example", "phone": "+447700900001"},
          {"name": "Grace", "email": "grace@x.example", "phone": "+447700900002"}]


def config(schedules: list[dict], policy_schedule: str = "", start: str = "2026-11-30") -> object:
    policies = [{"name": "pay", "levels": [{"notify": [f"schedule:{policy_schedule}"]}]}] if policy_schedule else []
    return parse_config({
        "services": [{"name": "payments-api", "team": "payments", "escalation_policy": "pay" if policies else ""}],
        "directory": {"teams": [{"name": "payments", "members": PEOPLE}]},
        "oncall": {"schedules": [{"name": name, "people": people, "start": start} for name, people in schedules],
                   "escalation_policies": policies}})


def names(cfg: object) -> list[str]:
    team = cfg.directory.teams[0]  # type: ignore[attr-defined]
    return [p.name for p in reach(cfg, PageTarget(team=team), ["sms"], NOW, [], lambda _: None).people]


def test_a_schedule_named_like_the_team_is_its_on_call():
    cfg = config([("payments", ["grace@x.example"]), ("other", ["ada@x.example"])], policy_schedule="other")
    assert team_schedules(cfg, "payments") == ["payments"] and names(cfg) == ["Grace"]


def test_else_the_schedule_its_services_policy_pages_first():
    cfg = config([("payments-primary", ["ada@x.example", "grace@x.example"])], policy_schedule="payments-primary")
    assert team_schedules(cfg, "payments") == ["payments-primary"] and names(cfg) == ["Ada"]


def test_a_team_without_a_schedule_pages_every_member():
    cfg = config([])
    assert team_schedules(cfg, "payments") == [] and names(cfg) == ["Ada", "Grace"]


def test_nobody_on_call_yet_falls_back_to_the_members():
    cfg = config([("payments", ["grace@x.example"])], start="2027-01-04")
    assert names(cfg) == ["Ada", "Grace"]
