#!/usr/bin/env bash
# A single-node SLURM with accounting on this machine, for the cluster tests (tests/test_cluster.py)
# and for trying profiles/slurm by hand. Run as root; running it again is harmless.
#
#   bash tests/cluster/slurm-up.sh      # install, configure, start, wait for an idle node
#   bash tests/cluster/slurm-down.sh    # stop the daemons this script started
#
# Installs slurm-wlm, slurmdbd, munge and MariaDB from Debian, writes /etc/slurm/slurm.conf and
# /etc/slurm/slurmdbd.conf, and starts munged, mariadbd, slurmdbd, slurmctld and slurmd (there is
# no systemd: each is started directly and tracked by its pid file). State, logs, pid files and the
# accounting database live in $LOSSCURVE_SLURM_DIR (default /tmp/losscurve-slurm). The node's
# partition is the default one and the account is the submitting user's default account, so the
# tests read both back with sinfo and sacctmgr.
set -euo pipefail

STATE=${LOSSCURVE_SLURM_DIR:-/tmp/losscurve-slurm}
CLUSTER=losscurve
PARTITION=losscurve
ACCOUNT=losscurve
SUBMITTER=${SUDO_USER:-$(id -un)}
NODE=$(hostname -s)
CPUS=2
# MariaDB for accounting listens here only, beside any system MariaDB on 3306.
DB_PORT=3307
DB_SOCKET=$STATE/mysql/mysqld.sock
DB_PASS=losscurve-accounting
DB_NAME=slurm_acct_db

say() { printf 'slurm-up: %s\n' "$*"; }

# die MESSAGE [LOG...]: print the message and the end of each log, then stop.
die() {
	printf 'slurm-up: ERROR: %s\n' "$1" >&2
	shift
	for log in "$@"; do
		if [ -f "$log" ]; then
			printf -- '--- last lines of %s:\n' "$log" >&2
			tail -n 30 "$log" >&2
		fi
	done
	exit 1
}

# running PIDFILE NAME: whether the pid file names a live process called NAME (not a reused pid).
running() {
	local pid
	pid=$(cat "$1" 2>/dev/null) || return 1
	[ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

# await NAME PIDFILE LOG SECONDS COMMAND...: poll COMMAND once a second until it succeeds; stop
# with the daemon's log as soon as the daemon NAME has exited, or after SECONDS.
await() {
	local name=$1 pidfile=$2 log=$3 limit=$4
	local deadline=$((SECONDS + limit))
	shift 4
	until "$@" >/dev/null 2>&1; do
		if [ -f "$pidfile" ] && ! running "$pidfile" "$name"; then
			die "$name exited while starting" "$log"
		fi
		[ "$SECONDS" -lt "$deadline" ] || die "$name is not ready after $limit s ($*)" "$log"
		sleep 1
	done
}

# write_config PATH MODE CONTENT: (re)write a config file of ours; never one we did not write, nor
# one that live daemons have read.
write_config() {
	if [ -f "$1" ] && [ "$(cat "$1")" = "$3" ]; then
		return
	fi
	if [ -f "$1" ] && [ "$(head -n 1 "$1")" != "$(head -n 1 <<<"$3")" ]; then
		die "$1 exists and was not written by this script: move it away to use this test cluster"
	fi
	if running "$STATE/run/slurmctld.pid" slurmctld || running "$STATE/run/slurmdbd.pid" slurmdbd; then
		die "$1 would change while SLURM runs: run tests/cluster/slurm-down.sh first"
	fi
	say "writing $1"
	install -D -m "$2" /dev/null "$1"
	printf '%s\n' "$3" >"$1"
}

[ "$(id -u)" = 0 ] || die "run as root (it installs packages, writes /etc/slurm and starts daemons)"

packages=(slurm-wlm slurmdbd munge mariadb-server mariadb-client)
commands=(slurmctld slurmd slurmdbd sacctmgr munged mariadbd mariadb-install-db)
if [ "$(command -v "${commands[@]}" | wc -l)" -lt "${#commands[@]}" ]; then
	say "installing ${packages[*]} (log: $STATE/apt.log)"
	mkdir -p "$STATE"
	export DEBIAN_FRONTEND=noninteractive
	{
		apt-get update -q
		apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${packages[@]}"
	} >"$STATE/apt.log" 2>&1 || die "apt-get install failed" "$STATE/apt.log"
fi
say "$(slurmctld -V), MariaDB $(mariadbd --version | awk '{print $3}'), $(munged -V | cut -d' ' -f1)"

install -d -m 0755 "$STATE" "$STATE/run" "$STATE/log" "$STATE/ctld" "$STATE/spool"

if ! getent hosts "$NODE" >/dev/null; then
	say "adding $NODE to /etc/hosts (SLURM must resolve its node name)"
	printf '127.0.0.1 %s\n' "$NODE" >>/etc/hosts
fi

# Memory as slurmd measures it, so the node registers without a mismatch.
MEMORY=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
[ -n "$MEMORY" ] || die "slurmd -C did not report RealMemory"

write_config /etc/slurm/slurm.conf 0644 "# Written by tests/cluster/slurm-up.sh: a single-node SLURM for the losscurve tests.
ClusterName=$CLUSTER
SlurmctldHost=$NODE
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
# No systemd and no cgroups here: track processes through /proc, bind no tasks.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=$NODE
AccountingStorageEnforce=associations
JobCompType=jobcomp/none
NodeName=$NODE CPUs=$CPUS RealMemory=$MEMORY State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP"

write_config /etc/slurm/slurmdbd.conf 0600 "# Written by tests/cluster/slurm-up.sh: accounting for the losscurve test cluster.
AuthType=auth/munge
DbdHost=$NODE
SlurmUser=root
LogFile=$STATE/log/slurmdbd.log
PidFile=$STATE/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=$DB_NAME"

# munged: reuse one that already answers (a system service), else start one as user munge.
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
	say "munged is already running"
else
	[ -f /etc/munge/munge.key ] || runuser -u munge -- mungekey --create
	install -d -o munge -g munge -m 0755 /run/munge
	say "starting munged"
	runuser -u munge -- munged --force || die "munged did not start" /var/log/munge/munged.log
	cp /run/munge/munged.pid "$STATE/run/munged.pid"
	await munged "$STATE/run/munged.pid" /var/log/munge/munged.log 20 bash -c 'munge -n | unmunge'
fi

# mariadbd: a database of its own under $STATE, reachable on 127.0.0.1:$DB_PORT.
if running "$STATE/run/mariadbd.pid" mariadbd; then
	say "mariadbd is already running"
else
	install -d -o mysql -g mysql -m 0750 "$STATE/mysql"
	if [ ! -d "$STATE/mysql/data/mysql" ]; then
		say "creating the accounting database in $STATE/mysql/data"
		mariadb-install-db --no-defaults --user=mysql --datadir="$STATE/mysql/data" \
			--auth-root-authentication-method=socket --skip-test-db >"$STATE/log/mariadb-install.log" 2>&1 ||
			die "mariadb-install-db failed" "$STATE/log/mariadb-install.log"
	fi
	say "starting mariadbd on 127.0.0.1:$DB_PORT"
	rm -f "$STATE/mysql/mariadbd.pid"
	setsid mariadbd --no-defaults --user=mysql --datadir="$STATE/mysql/data" --socket="$DB_SOCKET" \
		--port="$DB_PORT" --bind-address=127.0.0.1 --pid-file="$STATE/mysql/mariadbd.pid" \
		--log-error="$STATE/log/mariadbd.log" </dev/null >>"$STATE/log/mariadbd.log" 2>&1 &
	await mariadbd "$STATE/mysql/mariadbd.pid" "$STATE/log/mariadbd.log" 60 \
		mariadb-admin --no-defaults --socket="$DB_SOCKET" ping
	cp "$STATE/mysql/mariadbd.pid" "$STATE/run/mariadbd.pid"
fi
mariadb --no-defaults --socket="$DB_SOCKET" -u root <<SQL || die "could not create the accounting database"
CREATE DATABASE IF NOT EXISTS $DB_NAME;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON $DB_NAME.* TO 'slurm'@'localhost';
GRANT ALL ON $DB_NAME.* TO 'slurm'@'127.0.0.1';
SQL

# start NAME COMMAND...: start a SLURM daemon unless its pid file names a live one.
start() {
	if running "$STATE/run/$1.pid" "$1"; then
		say "$1 is already running"
	else
		say "starting $1"
		rm -f "$STATE/run/$1.pid"
		"${@:2}" </dev/null >>"$STATE/log/$1.log" 2>&1 || die "$1 did not start" "$STATE/log/$1.log"
	fi
}

start slurmdbd slurmdbd
await slurmdbd "$STATE/run/slurmdbd.pid" "$STATE/log/slurmdbd.log" 60 sacctmgr -n list cluster
if [ -z "$(sacctmgr -n -P list cluster "$CLUSTER" format=cluster)" ]; then
	say "registering cluster $CLUSTER"
	sacctmgr -i add cluster "$CLUSTER" >/dev/null
fi

start slurmctld slurmctld
await slurmctld "$STATE/run/slurmctld.pid" "$STATE/log/slurmctld.log" 60 scontrol ping
start slurmd slurmd

say "waiting for node $NODE to be idle"
# A node that an earlier, unclean stop left down or drained comes back once resumed.
case "$(sinfo -h -n "$NODE" -o %T)" in
down* | drain*) scontrol update NodeName="$NODE" State=RESUME || true ;;
esac
idle() { [ "$(sinfo -h -n "$NODE" -o %T)" = idle ]; }
await slurmd "$STATE/run/slurmd.pid" "$STATE/log/slurmd.log" 60 idle

# sacctmgr add exits 1 when the entry exists, so add only what is missing.
if [ -z "$(sacctmgr -n -P list account "$ACCOUNT" format=account)" ]; then
	say "adding account $ACCOUNT"
	sacctmgr -i add account "$ACCOUNT" Cluster="$CLUSTER" Description="losscurve tests" \
		Organization=losscurve >/dev/null
fi
if [ -z "$(sacctmgr -n -P list association where user="$SUBMITTER" account="$ACCOUNT" format=account)" ]; then
	say "adding $SUBMITTER to account $ACCOUNT"
	sacctmgr -i add user "$SUBMITTER" Account="$ACCOUNT" Cluster="$CLUSTER" >/dev/null
fi
sacctmgr -i modify user "$SUBMITTER" set DefaultAccount="$ACCOUNT" >/dev/null

say "ready: node $NODE ($CPUS CPUs, ${MEMORY} MB) idle in partition $PARTITION; account $ACCOUNT for $SUBMITTER"
