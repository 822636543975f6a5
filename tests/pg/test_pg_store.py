#!/usr/bin/python3
"""store.h's operations on the postgresql backend (pg_store.c, through
store.c and store/pg.c) against a throwaway PostgreSQL 15 (pgrig.py), as a
host's role and the administrator's."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgrig  # noqa: E402


def main():
    if not os.path.exists(f"{pgrig.PG_BIN}/initdb"):
        print("SKIP: postgresql-15 is not installed")
        return 77
    with pgrig.Cluster(os.path.abspath(os.environ["MFA_SQL_DIR"])) as pg:
        host, admin, host_b = pgrig.HOSTS[0], pgrig.ADMIN, pgrig.HOSTS[1]
        # The password files, root's, as the store demands.
        pg.mfactl_config(host)
        pg.mfactl_config(admin)
        pg.mfactl_config(host_b)
        env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C",
               "ASAN_OPTIONS": "verify_asan_link_order=0:detect_leaks=1",
               "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}
        proc = subprocess.run([os.environ["PG_STORE"], pg.conninfo(host),
                               os.path.join(pg.admin_dir, f"pw.{host}"), pg.conninfo(admin),
                               os.path.join(pg.admin_dir, f"pw.{admin}"), pg.conninfo(host_b),
                               os.path.join(pg.admin_dir, f"pw.{host_b}")],
                              capture_output=True, text=True, env=env, timeout=120)
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)
        if proc.returncode != 0:
            return 1
    print("ok: server stopped, nothing left running, temporary directory removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
