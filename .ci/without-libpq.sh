#!/usr/bin/env bash
# Runs a command (the CI build) where PostgreSQL's client library and OpenSSL's development
# files cannot be found: their headers, static and shared libraries, pkg-config files and
# pg_config are hidden in a private mount namespace. A build that still passes needs nothing
# but Rust, a C compiler, perl and make (pq-sys is built with `bundled`: libpq and OpenSSL from
# source). Needs root (CI runs as root); elsewhere it says so and fails.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
  echo "without-libpq: needs root and unshare(1) to hide libpq; cannot prove the build" >&2
  exit 1
fi
exec unshare --mount --propagation private bash -euo pipefail -c '
  hidden=0
  # Header directories: an empty tmpfs over each.
  for dir in /usr/include/postgresql /usr/include/openssl /usr/include/x86_64-linux-gnu/openssl; do
    if [ -d "$dir" ]; then mount -t tmpfs -o size=1m,mode=0755 none "$dir"; hidden=$((hidden + 1)); fi
  done
  # Libraries, pkg-config files and pg_config: /dev/null over each regular file (a bind mount
  # over a symlink lands on its target, which is hidden too).
  for f in /usr/lib/*/libpq.* /usr/lib/*/libpq.so.* /usr/lib/*/libssl.a /usr/lib/*/libcrypto.a \
           /usr/lib/*/pkgconfig/libpq.pc /usr/lib/*/pkgconfig/openssl.pc \
           /usr/lib/*/pkgconfig/libssl.pc /usr/lib/*/pkgconfig/libcrypto.pc \
           /usr/lib/postgresql/*/lib/libpq* /usr/bin/pg_config /usr/lib/postgresql/*/bin/pg_config; do
    if [ -e "$f" ] && [ ! -L "$f" ]; then mount --bind /dev/null "$f"; hidden=$((hidden + 1)); fi
  done
  if pkg-config --exists libpq 2>/dev/null; then echo "without-libpq: pkg-config still finds libpq" >&2; exit 1; fi
  if [ -s /usr/include/postgresql/libpq-fe.h ]; then echo "without-libpq: libpq-fe.h still visible" >&2; exit 1; fi
  echo "without-libpq: hid $hidden paths (libpq and OpenSSL headers, libraries, pkg-config, pg_config)"
  exec "$@"
' without-libpq "$@"
