"""Small-size run of bench/two_servers.py: two gunicorn instances, one PostgreSQL, one Redis, kill -9."""

from __future__ import annotations

import pytest

from bench.two_servers import LOGIN_LIMIT, rule_change_check, two_server_check

# Starts a PostgreSQL cluster, Redis and two gunicorn instances: seconds, not milliseconds.
pytestmark = pytest.mark.slow


def test_two_servers_share_one_database_one_session_store_and_one_set_of_limits() -> None:
    report = two_server_check(clients=4, requests=12)
    load = report.load
    assert 0 < load.acknowledged < load.sent  # the kill really cut requests off
    assert load.lost == 0
    assert load.duplicates == 0
    assert load.rows >= load.acknowledged
    assert report.survivor_5xx == 0
    # Signed in on one, signed in on the other; signed out on the other, signed out on the first.
    assert (report.session.signed_in, report.session.other_instance) == (303, 200)
    assert (report.session.signed_out, report.session.first_after_sign_out) == (303, 302)
    # Wrong passwords spread over both instances pause the account as if sent to one.
    assert report.lockout.right_password == 429 and report.lockout.paused_page
    # N per minute in total across both instances, not N on each.
    assert sum(report.limit.allowed) == LOGIN_LIMIT
    assert report.ok


def test_a_rule_change_approved_on_one_server_is_served_by_both_without_a_restart() -> None:
    report = rule_change_check(deadline_seconds=60)
    assert report.director_set == 303  # the admin marked a medical director
    assert report.proposed == 303  # proposed on the second server
    assert report.own_approval == 403  # the proposer, a medical director too, cannot approve it
    assert report.approved == 303  # another medical director approved it on the first server
    assert all(seconds is not None for seconds in report.served_after), report.served_after
    assert report.ok
