"""What /metrics says about dedicated channels: how many each team has in use (as Graph last listed
them; Teams also counts the ones deleted in the last 30 days against its 1,000 per team) and how
many Beacon made there, open or archived."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily

from services.store.uow import UnitOfWork


async def families(uow: UnitOfWork) -> list[GaugeMetricFamily]:
    in_use = GaugeMetricFamily("beacon_team_channels_in_use", "Channels a team has, as Graph last listed them "
                               "(Teams allows 1,000 per team, deleted ones counting for 30 days)", labels=["team"])
    for team in await uow.channels.teams():
        if team.channels_in_use is not None:
            in_use.add_metric([team.team_id], team.channels_in_use)
    made = GaugeMetricFamily("beacon_dedicated_channels", "Incident channels Beacon made, by team and state",
                             labels=["state", "team"])
    for team_id, total, archived in await uow.channels.made():
        made.add_metric(["open", team_id], total - archived)
        made.add_metric(["archived", team_id], archived)
    return [in_use, made]
