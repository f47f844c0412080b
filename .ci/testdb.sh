#!/usr/bin/env bash
# Prints the URL of a PostgreSQL server the tests may use
# (SECRETS_TEST_POSTGRES), for `make test` and `make testdb`:
#   1. $SECRETS_TEST_POSTGRES when it is set;
#   2. else a server already answering on 127.0.0.1:5432 (CI has one:
#      user postgres, trust auth);
#   3. else a throwaway cluster of its own: Debian's postgresql package
#      (installed with apt-get when missing, which needs root), initdb in a
#      temporary directory, trust auth, a free port on 127.0.0.1. The
#      cluster is left running for the next run, which reuses it; stop it
#      with the pg_ctl command printed on stderr.
# Set TESTDB_THROWAWAY=1 to skip steps 1 and 2.
# Everything but the URL goes to stderr.
set -euo pipefail

log() { echo "testdb: $*" >&2; }
url() { echo "postgres://postgres@127.0.0.1:$1/postgres?sslmode=disable"; }

if [ "${TESTDB_THROWAWAY:-}" != 1 ]; then
	if [ -n "${SECRETS_TEST_POSTGRES:-}" ]; then
		echo "$SECRETS_TEST_POSTGRES"
		exit 0
	fi
	if command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then
		url 5432
		exit 0
	fi
fi

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
bin=$(bindir)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
	if ! command -v apt-get >/dev/null; then
		log "no PostgreSQL server on 127.0.0.1:5432, and no apt-get to install one."
		log "start one, or set SECRETS_TEST_POSTGRES=postgres://user@host:port/db?sslmode=disable"
		exit 1
	fi
	if [ "$(id -u)" != 0 ]; then
		log "installing PostgreSQL with apt-get needs root: run sudo make testdb"
		exit 1
	fi
	log "installing Debian's postgresql package"
	apt-get update >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql >&2
	bin=$(bindir)
fi

# PostgreSQL refuses to run as root: as root, the cluster belongs to the
# postgres user the package created.
run=()
if [ "$(id -u)" = 0 ]; then
	run=(runuser -u postgres --)
fi

dir=${TMPDIR:-/tmp}/secrets-testdb-$(id -u)
if [ -f "$dir/port" ]; then
	port=$(cat "$dir/port")
	if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
		url "$port"
		exit 0
	fi
	if [ -d "$dir/data" ] && "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w start >&2; then
		url "$port"
		exit 0
	fi
	rm -rf "$dir"
fi

# A free port: nothing accepts a connection on it.
port=
for p in $(seq 54320 54420); do
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		port=$p
		break
	fi
done
if [ -z "$port" ]; then
	log "no free port in 54320-54420"
	exit 1
fi

mkdir -p "$dir"
if [ "$(id -u)" = 0 ]; then
	chown postgres: "$dir"
fi
log "starting a throwaway PostgreSQL in $dir on 127.0.0.1:$port"
"${run[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
	{ cat "$dir/initdb.log" >&2; exit 1; }
# Test data is disposable: no fsync. Unix sockets in the cluster's own
# directory, so it needs no /var/run/postgresql. In postgresql.conf, so a
# later run restarts it the same way.
cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
CONF
"${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w start >&2 || { cat "$dir/log" >&2; exit 1; }
echo "$port" >"$dir/port"
log "stop it with: ${run[*]} $bin/pg_ctl -D $dir/data stop"
url "$port"
