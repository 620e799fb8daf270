#!/bin/sh
# test_client_package.sh BUILD_DIR CC: libarenad as another project sees
# it. Installs the build into a temporary prefix, builds a small program
# with nothing but `pkg-config --cflags --libs arenad` (shared) and the
# static archive, runs both, and checks that the shared library exports
# exactly the functions that the installed headers (arenad.h and the
# ar/error.h it includes) declare.
set -eu
build=$1
cc=$2
header_dir=$(dirname "$0")/../../client/include
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pcdir=$(dirname "$(find "$tmp/prefix" -name arenad.pc | head -n 1)")
libdir=$(dirname "$pcdir")
export PKG_CONFIG_PATH="$pcdir"

cat >"$tmp/consumer.c" <<'C'
#include <arenad.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  char path[108];
  arenad_t *h;
  if (arenad_socket_path("/nonexistent/arenad.sock", path, sizeof path) != 0)
    return 1;
  if (arenad_connect(path, &h) != AR_EIO || h != NULL)
    return 2;
  if (strcmp(ar_strerror(AR_ENOMEM), "out of memory") != 0)
    return 3;
  printf("%s %s\n", arenad_policy_name(ARENAD_POLICY_BUDDY),
         ar_err_name(AR_EPROTO));
  return 0;
}
C

# Shared, through pkg-config alone.
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Werror -o "$tmp/shared" "$tmp/consumer.c" \
  $(pkg-config --cflags --libs arenad)
out=$(LD_LIBRARY_PATH="$libdir" "$tmp/shared")
[ "$out" = "buddy EPROTO" ] || { echo "shared consumer said: $out"; exit 1; }

# Static: the archive carries everything but protobuf-c.
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Werror -o "$tmp/static" "$tmp/consumer.c" \
  $(pkg-config --cflags arenad) "$libdir/libarenad.a" \
  $(pkg-config --static --libs libprotobuf-c)
out=$("$tmp/static")
[ "$out" = "buddy EPROTO" ] || { echo "static consumer said: $out"; exit 1; }

# The archive holds machine code, not only link-time optimisation's
# intermediate code: gcc without its linker plugin, and clang when there
# is one, link it too.
static_with() {
  # shellcheck disable=SC2046
  "$@" -std=c11 -o "$tmp/static2" "$tmp/consumer.c" \
    $(pkg-config --cflags arenad) "$libdir/libarenad.a" \
    $(pkg-config --static --libs libprotobuf-c) ||
    { echo "libarenad.a does not link with: $*"; exit 1; }
  out=$("$tmp/static2")
  [ "$out" = "buddy EPROTO" ] || { echo "$* consumer said: $out"; exit 1; }
}
if ! "$cc" --version | grep -qi clang; then
  static_with "$cc" -fno-use-linker-plugin
fi
if command -v clang >/dev/null; then
  static_with clang
fi

# The exports: what the installed headers declare, and nothing else.
grep -o '^ARENAD_EXTERN [^(]*(' "$header_dir/arenad.h" |
  sed 's/.*[ *]\([a-z_0-9]*\)($/\1/' >"$tmp/want"
grep -o '^[a-z][a-z_ ]*[ *]ar_[a-z_0-9]*(' \
  "$(find "$tmp/prefix" -path '*/ar/error.h' | head -n 1)" |
  sed 's/.*[ *]\(ar_[a-z_0-9]*\)($/\1/' >>"$tmp/want"
sort -o "$tmp/want" "$tmp/want"
nm -D --defined-only "$libdir/libarenad.so" | awk '$2 == "T" { print $3 }' |
  sed 's/@.*//' | sort >"$tmp/got"
if ! diff -u "$tmp/want" "$tmp/got"; then
  echo "libarenad.so exports differ from arenad.h (- declared, + exported)"
  exit 1
fi
echo "ok: $(wc -l <"$tmp/got") symbols exported"
