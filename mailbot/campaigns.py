"""Which campaign a moment or a message belongs to, when several are configured.

Pure functions of the configuration and a time: no store, no mail. Every
campaign has a window of days (`opens`..`closes`, see CampaignConfig) in
which its mail may arrive; windows may overlap (two campaigns the same
autumn, or last year's late reports while next year's plans come in).

- A campaign is *open* on the days of its window.
- The *current* campaign at a moment is the open one that opened last; when
  none is open, the one that closed last; before any has opened, the one
  that opens first. Commands use it when no `--campaign` is given.
- A message belongs to the campaign that defines the forms it carries,
  among those open on the day it arrived (else all of them); ties go to the
  campaign whose deadline for those forms is nearest to its arrival, then
  to the current one at that moment.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable, Sequence

from mailbot.config import CampaignConfig


def local_day(campaign: CampaignConfig, at: dt.datetime) -> dt.date:
    return at.astimezone(campaign.timezone).date()


def is_open(campaign: CampaignConfig, at: dt.datetime) -> bool:
    """`at` falls in the campaign's window (its local days, both ends included)."""
    return campaign.opens <= local_day(campaign, at) <= campaign.closes


def open_at(campaigns: Sequence[CampaignConfig], at: dt.datetime) -> list[CampaignConfig]:
    """The campaigns open at `at`, the one that opened last first."""
    return sorted((c for c in campaigns if is_open(c, at)), key=lambda c: c.opens, reverse=True)


def current(campaigns: Sequence[CampaignConfig], at: dt.datetime) -> CampaignConfig:
    """The campaign commands mean by default at `at` (module docstring)."""
    if not campaigns:
        raise ValueError("no campaign configured")
    now_open = open_at(campaigns, at)
    if now_open:
        return now_open[0]
    past = [c for c in campaigns if c.closes < local_day(c, at)]
    if past:
        return max(past, key=lambda c: (c.closes, c.opens))
    return min(campaigns, key=lambda c: c.opens)


def attribute(campaigns: Sequence[CampaignConfig], at: dt.datetime, forms: Iterable[str | None]) -> CampaignConfig:
    """The campaign a message received at `at` carrying documents of `forms` belongs to."""
    wanted = {f for f in forms if f}
    candidates = open_at(campaigns, at) or list(campaigns)
    preferred = current(candidates, at)
    if not wanted:
        return preferred

    def score(c: CampaignConfig) -> tuple:
        defined = wanted & set(c.form_ids)
        nearest = min((abs((c.form(f).deadline - at).total_seconds()) for f in defined), default=float("inf"))
        return (-len(defined), nearest, c is not preferred)

    return min(candidates, key=score)


def by_id(campaigns: Sequence[CampaignConfig], campaign_id: str) -> CampaignConfig | None:
    return next((c for c in campaigns if c.id == campaign_id), None)


@dataclass(frozen=True)
class CampaignInfo:
    """One configured campaign as a list shows it (the CLI, the staff site)."""

    id: str
    name: str
    opens: dt.date
    closes: dt.date
    week_start: dt.date
    week_end: dt.date
    open: bool  # mail arriving now may belong to it
    current: bool  # what commands and pages show when none is chosen


def listing(campaigns: Sequence[CampaignConfig], at: dt.datetime) -> list[CampaignInfo]:
    """Every configured campaign, the latest first, saying which is current and which are open;
    pick one with App.for_campaign(id)."""
    now = current(campaigns, at)
    return [CampaignInfo(id=c.id, name=c.name, opens=c.opens, closes=c.closes, week_start=c.week_start,
                         week_end=c.week_end, open=is_open(c, at), current=c is now)
            for c in sorted(campaigns, key=lambda c: (c.opens, c.closes), reverse=True)]
