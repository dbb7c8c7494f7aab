#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks use, if missing. Idempotent.
# Needs root (CI and these machines run as root); without it, says what is missing.
set -euo pipefail
need=()
command -v nats-server >/dev/null 2>&1 || need+=(nats-server)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# libfaketime: test/integration/clock-skew.test.ts runs one region's nodes with their wall clock moved.
compgen -G '/usr/lib/*/faketime/libfaketimeMT.so.1' >/dev/null || compgen -G '/usr/lib/faketime/libfaketimeMT.so.1' >/dev/null || need+=(libfaketime)
# `make bench` sets ABLY_NG_BENCH_DEPS=1: the peers it measures (nats-server above,
# mosquitto) and taskset, which pins servers and the load generator to separate CPUs.
if [ "${ABLY_NG_BENCH_DEPS:-0}" = 1 ]; then
  command -v mosquitto >/dev/null 2>&1 || need+=(mosquitto)
  command -v taskset >/dev/null 2>&1 || need+=(util-linux)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing packages: ${need[*]} (install them with apt-get as root)" >&2
  exit 1
fi
echo "installing ${need[*]} from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || apt-get update
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
