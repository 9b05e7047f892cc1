"""A Python step instrumented with the pipetrack package.

Under `pipetrack run` it joins the run the wrapper started (no duplicate run);
run on its own it starts a run of its own. Set FAIL=1 to see a failure land
with its exception class and traceback.
"""

import os
import time

import pipetrack

STATES = ["CA", "NY", "TX", "WA"]

pipetrack.track_init(total_tasks=2)

with pipetrack.task("Download BDC availability files"):
    for i, state in enumerate(STATES, start=1):
        pipetrack.gmessage(f"downloading {state}")
        pipetrack.progress(i, len(STATES))
        time.sleep(0.05)

state = "TX"
pipetrack.genter("Validate {state} file")  # interpolated from the local variable
if os.environ.get("FAIL") == "1":
    raise ConnectionError("HTTP 503 from broadbandmap.fcc.gov after 3 retries")
pipetrack.gexit()
