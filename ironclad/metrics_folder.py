"""The folder where a server's workers write their metrics, one file per process and kind
(prometheus-client's multiprocess mode): made and emptied by the launcher (config/serve.py) before
any worker starts, added up by /metrics (ironclad/metrics.py).

Imports nothing of prometheus-client, which reads PROMETHEUS_MULTIPROC_DIR once, when first imported:
the launcher sets it first.
"""

import os
import re
import stat
import sys
import tempfile
from pathlib import Path

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# prometheus-client's file names (counter_<pid>.db, gauge_livesum_<pid>.db...): the only files a
# start removes and a scrape reads, whatever else the folder holds.
METRICS_FILE = re.compile(r"(?P<kind>counter|histogram|summary|gauge_[a-z]+)_(?P<pid>[0-9]+)\.db")


def metrics_files(folder: Path) -> list[Path]:
    return [file for file in folder.glob("*.db") if METRICS_FILE.fullmatch(file.name)]


def live_gauge_pids(folder: Path) -> set[int]:
    """The processes whose gauges of live values (gauge_livesum_<pid>.db...) are in the folder."""
    found = (METRICS_FILE.fullmatch(file.name) for file in folder.glob("gauge_live*.db"))
    return {int(match["pid"]) for match in found if match}


def prepare(host: str, port: int) -> None:
    """Make the folder PROMETHEUS_MULTIPROC_DIR names, else one of this user's, host's and port's
    under the temporary directory, which only this user may read; remove its metrics files, so
    that the counters of a server start from zero, as Prometheus expects of a restarted target."""
    named = os.environ.get(VARIABLE)
    address = re.sub(r"[^A-Za-z0-9.]", "_", f"{host}-{port}")
    folder = Path(named or Path(tempfile.gettempdir()) / f"ironclad-metrics-{os.getuid()}-{address}")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    found = folder.lstat()
    if not named and (stat.S_ISLNK(found.st_mode) or found.st_uid != os.getuid()):
        # In a shared temporary directory, a folder another user made first could be read by them.
        sys.exit(
            f"The metrics folder {folder} is not this user's own: remove it, or set {VARIABLE} to a "
            "folder of yours."
        )
    for file in metrics_files(folder):
        file.unlink()
    os.environ[VARIABLE] = str(folder)
