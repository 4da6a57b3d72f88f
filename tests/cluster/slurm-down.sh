#!/usr/bin/env bash
# Stop the single-node SLURM of tests/cluster/slurm-up.sh: only the daemons it started, found by
# the pid files it keeps in $LOSSCURVE_SLURM_DIR (default /tmp/losscurve-slurm). The database,
# state and logs stay there, so slurm-up.sh starts again where this left off.
set -euo pipefail

STATE=${LOSSCURVE_SLURM_DIR:-/tmp/losscurve-slurm}

# Compute nodes first, the database last: each daemon still reaches the ones it reports to.
for name in slurmd slurmctld slurmdbd mariadbd munged; do
	pidfile=$STATE/run/$name.pid
	pid=$(cat "$pidfile" 2>/dev/null) || continue
	if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != "$name" ]; then
		echo "slurm-down: $name is not running"
		rm -f "$pidfile"
		continue
	fi
	echo "slurm-down: stopping $name (pid $pid)"
	kill -TERM "$pid"
	for _ in $(seq 30); do
		[ -d "/proc/$pid" ] || break
		sleep 1
	done
	if [ -d "/proc/$pid" ]; then
		echo "slurm-down: $name (pid $pid) ignored SIGTERM for 30 s, killing it"
		kill -KILL "$pid"
	fi
	rm -f "$pidfile"
done
