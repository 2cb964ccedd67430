"""A private PostgreSQL cluster for a test: initdb in a folder the test owns, Unix socket only
(listen_addresses = ''), trust authentication for the user `qf`. PostgreSQL refuses to run as
root, so under root the server commands run as the `postgres` user (runuser) and the folder is
given to it. psql answers queries (tab-separated rows)."""
import os
import shutil
import subprocess

PG_BIN = os.environ.get("QF_PG_BIN", "/usr/lib/postgresql/15/bin")


class Cluster:
    def __init__(self, folder, pg_bin=PG_BIN):
        self.bin = pg_bin
        self.data = os.path.join(folder, "pgdata")
        self.as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        os.makedirs(self.data, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres", "postgres")
        os.chmod(self.data, 0o700)
        subprocess.run([*self.as_pg, os.path.join(pg_bin, "initdb"), "-D", self.data, "-U", "qf", "--auth=trust",
                        "-E", "UTF8", "--no-locale"], check=True, capture_output=True, timeout=120)
        self.url = f"host={self.data} user=qf dbname=postgres"
        self.running = False

    def start(self):
        subprocess.run([*self.as_pg, os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l",
                        os.path.join(self.data, "server.log"), "-w", "-t", "60", "-o",
                        f"-c listen_addresses='' -c unix_socket_directories='{self.data}'", "start"],
                       check=True, capture_output=True, timeout=90)
        self.running = True

    def stop(self, mode="fast"):
        if self.running:
            subprocess.run([*self.as_pg, os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", mode, "-w",
                            "-t", "60", "stop"], check=True, capture_output=True, timeout=90)
            self.running = False

    def query(self, sql):
        """Rows of `sql` as lists of strings."""
        r = subprocess.run([os.path.join(self.bin, "psql"), self.url, "-X", "-A", "-t", "-F", "\t",
                            "-v", "ON_ERROR_STOP=1", "-c", sql], check=True, capture_output=True, text=True,
                           timeout=60)
        return [line.split("\t") for line in r.stdout.splitlines() if line]

    def scalar(self, sql):
        rows = self.query(sql)
        return rows[0][0] if rows else None


def case_cluster(case, folder):
    """A started cluster in `folder`, stopped (immediate) when the unittest case ends."""
    db = Cluster(folder)
    case.addCleanup(db.stop, "immediate")
    db.start()
    return db
