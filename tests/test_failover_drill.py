"""The failover drill (drill/failover.py): a synchronous standby promoted after the primary is
SIGKILLed mid-traffic; every sale the client saw acknowledged is on the new primary exactly
once, and the client got through again within seconds."""
import logging

import pytest

from drill import failover

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_a_primary_killed_mid_traffic_loses_no_acknowledged_sale(caplog):
    caplog.set_level(logging.CRITICAL, logger="webapp")  # the outage's 500s, expected
    figures = failover.kill_drill()
    print("\nkill: " + failover.report(figures))
    assert figures["acknowledged"] >= 10
    assert figures["found"] == figures["acknowledged"]
    assert (figures["lost"], figures["duplicated"]) == (0, 0)
    assert figures["outage"] < 30
