"""The locustfile: wires the scenarios (knobs from GOLIVE_LOADTEST_*) and the SLO listener.

    locust -f loadtests/locustfile.py --headless -H http://127.0.0.1:8000 -u 20 -r 5 -t 30s

`fab loadtest --env E` runs it for an environment (see loadtests/README.md).
"""

import os

from locust import events

from loadtests import listener, scenarios
from loadtests.contract import ADMIN_KEY_VARIABLE
from loadtests.knobs import from_environ

# Locust runs the User classes it finds in this module's namespace: only those with a weight (and the admin
# only with a key) are put there.
globals().update(
    {cls.__name__: cls for cls in scenarios.configure(from_environ(), admin_key=os.environ.get(ADMIN_KEY_VARIABLE))}
)
listener.register(events)
