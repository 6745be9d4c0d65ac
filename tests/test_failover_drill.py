"""The failover drills (drill/failover.py): a synchronous standby promoted after the primary is
SIGKILLed mid-traffic, or after the link between the app and a primary that lives on is cut
(network namespaces); every sale the client saw acknowledged is on the new primary exactly
once, the client got through again within seconds, and the cut-off primary holds no sale the
client thinks was lost."""
import logging

import pytest

from drill import failover

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def _holds(figures):
    assert figures["acknowledged"] >= 10
    assert figures["found"] == figures["acknowledged"]
    assert (figures["lost"], figures["duplicated"]) == (0, 0)
    assert figures["outage"] < 30
    assert figures["after"] >= 1  # the new primary acknowledged sales sent after the fault


def test_a_primary_killed_mid_traffic_loses_no_acknowledged_sale(caplog):
    caplog.set_level(logging.CRITICAL, logger="webapp")  # the outage's 500s, expected
    figures = failover.kill_drill()
    print("\nkill: " + failover.report(figures))
    _holds(figures)


def test_a_primary_cut_off_mid_traffic_loses_no_acknowledged_sale_and_keeps_no_lost_one(caplog):
    caplog.set_level(logging.CRITICAL, logger="webapp")
    figures = failover.partition_drill()
    print("\npartition: " + failover.report(figures))
    _holds(figures)
    old = figures["old_primary"]
    assert old["alive"] and old["sales"] >= 1  # it lived on, and served sales before the cut
    assert (old["not_acknowledged"], old["missing"]) == (0, 0)
