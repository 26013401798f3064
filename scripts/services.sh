#!/usr/bin/env bash
# The servers the test suite talks to, on 127.0.0.1 or the local socket, from Debian's packages:
# installed where missing and started where stopped. Run by `make test` and `make check`; on a
# machine that runs them already, it only checks. Nothing here changes a server's settings.
#
#   PostgreSQL: database `test` owned by the current user, reached over the local socket
#               (Debian's default peer authentication), as INTENTLY_TEST_POSTGRES says;
#   nats-server: the binary (the tests run their own servers).
set -euo pipefail

DATABASE=${INTENTLY_TEST_DATABASE:-test}
ME=$(id -un)
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)

as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

install() {  # Debian packages, once
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "$@"
}

postgresql() {
    if psql -X -q -d "$DATABASE" -c "SELECT 1" >/dev/null 2>&1; then
        return
    fi
    command -v pg_ctlcluster >/dev/null || install postgresql
    local version
    version=$(ls /etc/postgresql | sort -V | tail -1)
    if ! pg_isready -q; then
        echo "services: starting PostgreSQL $version"
        $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start
        for _ in $(seq 50); do pg_isready -q && break; sleep 0.2; done
    fi
    if [ -z "$(as_postgres psql -X -tA -c "SELECT 1 FROM pg_roles WHERE rolname = '$ME'")" ]; then
        echo "services: PostgreSQL role $ME"
        as_postgres createuser --createdb "$ME"
    fi
    if [ -z "$(as_postgres psql -X -tA -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" ]; then
        echo "services: PostgreSQL database $DATABASE"
        as_postgres createdb --owner "$ME" "$DATABASE"
    fi
    psql -X -q -d "$DATABASE" -c "SELECT 1" >/dev/null
}

postgresql

# NATS with JetStream: the cluster's fault tests start nats-server themselves (on a free port,
# in a folder of their own), so only the binary is needed here.
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || install nats-server
