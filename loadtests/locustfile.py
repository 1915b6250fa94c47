"""The locustfile: wires the scenarios (knobs from GOLIVE_LOADTEST_*) and the SLO listener.

    locust -f loadtests/locustfile.py --headless -H http://127.0.0.1:8000 -u 20 -r 5 -t 30s

`fab loadtest --env E` runs it for an environment (see loadtests/README.md).
"""

import os

from locust import events

from loadtests import listener, scenarios
from loadtests.knobs import from_environ

for _cls in scenarios.configure(from_environ(), admin_key=os.environ.get(scenarios.ADMIN_KEY_VARIABLE)):
    globals()[_cls.__name__] = _cls
listener.register(events)
