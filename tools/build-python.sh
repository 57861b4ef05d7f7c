#!/usr/bin/env bash
# Build a CPython 3.14 interpreter (or its free-threaded build) from CPython's upstream source as
# Debian's archive serves it, into a cache outside the clone, once. `make matrix` calls this when
# the interpreter is missing; a second run finds it and returns at once.
#
#   tools/build-python.sh 3.14   ->  $FERROVQ_PYTHONS/3.14/bin/python3.14
#   tools/build-python.sh 3.14t  ->  $FERROVQ_PYTHONS/3.14t/bin/python3.14t
#
# The archive's address is read from this machine's own apt sources: nothing is fetched but a
# package file, and no host is written here.
set -euo pipefail
flavour=${1:?usage: build-python.sh 3.14|3.14t}
version=3.14.7
cache=${FERROVQ_PYTHONS:-$HOME/.cache/ferrovq/pythons}
prefix=$cache/$flavour
case $flavour in
    3.14) configure_flags=(); exe=python3.14 ;;
    3.14t) configure_flags=(--disable-gil); exe=python3.14t ;;
    *) echo "unknown interpreter: $flavour" >&2; exit 2 ;;
esac
# A finished build leaves a stamp; anything else under the prefix is a broken earlier try.
if [ -e "$prefix/.built" ]; then
    echo "$prefix/bin/$exe"
    exit 0
fi
rm -rf "$prefix"
archive=$(grep -hoE '(URIs:|deb) +https?://[^ ]+' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
    | awk '{print $2}' | grep -v security | head -n 1 || true)
[ -n "$archive" ] || { echo "no Debian archive in the apt sources" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tarball=$cache/python3.14_$version.orig.tar.xz
mkdir -p "$cache"
if [ ! -s "$tarball" ]; then
    curl -fsSL -o "$tarball.part" "${archive%/}/pool/main/p/python3.14/python3.14_$version.orig.tar.xz"
    mv "$tarball.part" "$tarball"
fi
tar -xf "$tarball" -C "$work"
cd "$work"/*/
echo "building CPython $version ($flavour) into $prefix, a few minutes" >&2
./configure --quiet --prefix="$prefix" --with-ensurepip=install "${configure_flags[@]}" >&2
make -j"$(nproc)" --quiet >&2
make --quiet install >&2
touch "$prefix/.built"
echo "$prefix/bin/$exe"
