#!/bin/sh
# tests/configure_nccl.sh: configure finds NCCL where PyTorch installs it, the Python package
# nvidia-nccl (only libnccl.so.2 in it, no libnccl.so), defines HAVE_NCCL and says so; without NCCL
# the GPU part is still built, and configure says why there is no NCCL; --with-nccl=DIR that holds
# none stops configure.
# Runs configure on a CUDA toolkit made of links to this machine's, minus NCCL, with NCCL laid out
# as the Python package. Skips (77) where this machine has no CUDA toolkit with NCCL or no python3.
set -u
: "${TETRI_SRCDIR:?run through make check}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/configure_nccl.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

cuda=
for d in /usr/local/cuda /usr/local/cuda-13.0 /opt/cuda; do
    [ -x "$d/bin/nvcc" ] && [ -f "$d/include/nccl.h" ] && { cuda=$d; break; }
done
lib=$cuda/lib64
[ -n "$cuda" ] && [ -e "$lib/libnccl.so.2" ] && command -v python3 >/dev/null ||
    { echo "SKIP: no CUDA toolkit with NCCL in it, or no python3"; exit 77; }
[ -f /usr/include/nccl.h ] && { echo "SKIP: /usr has NCCL too: configure would find it there"; exit 77; }

# The toolkit without NCCL; NCCL as pip lays it out (nvidia/nccl/{include,lib}).
mkdir -p "$tmp/cuda/include" "$tmp/cuda/lib64" "$tmp/py/nvidia/nccl/include" "$tmp/py/nvidia/nccl/lib"
ln -s "$cuda/bin" "$tmp/cuda/bin"
for f in "$cuda"/include/*; do
    case ${f##*/} in nccl*) ln -s "$f" "$tmp/py/nvidia/nccl/include/" ;; *) ln -s "$f" "$tmp/cuda/include/" ;; esac
done
for f in "$lib"/*; do
    case ${f##*/} in libnccl.so.2) ln -s "$f" "$tmp/py/nvidia/nccl/lib/" ;; libnccl*) ;; *) ln -s "$f" "$tmp/cuda/lib64/" ;; esac
done
: >"$tmp/py/nvidia/nccl/__init__.py"

mkdir "$tmp/with" "$tmp/without" "$tmp/bad"
(cd "$tmp/with" && PYTHONPATH="$tmp/py" "$TETRI_SRCDIR/configure" --with-cuda="$tmp/cuda" PYTHON=python3) >"$tmp/with.log" 2>&1 ||
    fail "configure with the Python package: $(tail -5 "$tmp/with.log")"
grep -q "checking for NCCL 2.18+ (ncclCommSplit, non-blocking communicators) in $tmp/py/nvidia/nccl... yes" "$tmp/with.log" ||
    fail "configure did not find NCCL in the Python package: $(grep -i nccl "$tmp/with.log")"
grep -q "NCCL: 2\.[0-9]*\.[0-9]* (in $tmp/py/nvidia/nccl): communicators" "$tmp/with.log" ||
    fail "configure does not say the build has NCCL: $(grep -i nccl "$tmp/with.log")"
grep -q '^#define HAVE_NCCL 1' "$tmp/with/config.h" || fail "HAVE_NCCL not defined"

(cd "$tmp/without" && PYTHONPATH= "$TETRI_SRCDIR/configure" --with-cuda="$tmp/cuda" PYTHON=false) >"$tmp/without.log" 2>&1 ||
    fail "configure without NCCL: $(tail -5 "$tmp/without.log")"
grep -q "GPU executor: yes (CUDA in $tmp/cuda; device code for " "$tmp/without.log" ||
    fail "without NCCL the GPU part is not built: $(grep -i 'GPU executor' "$tmp/without.log")"
grep -q "NCCL: no (no nccl.h with libnccl.so(.2) in: $tmp/cuda /usr " "$tmp/without.log" ||
    fail "configure without NCCL does not say why: $(grep -i nccl "$tmp/without.log")"
grep -q '^#define HAVE_NCCL' "$tmp/without/config.h" && fail "HAVE_NCCL defined without NCCL"

(cd "$tmp/bad" && "$TETRI_SRCDIR/configure" --with-cuda="$tmp/cuda" --with-nccl="$tmp/cuda") >"$tmp/bad.log" 2>&1 &&
    fail "configure --with-nccl=DIR without NCCL in DIR succeeded"
grep -q "error: --with-nccl given but no nccl.h" "$tmp/bad.log" || fail "--with-nccl=DIR without NCCL: $(tail -3 "$tmp/bad.log")"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "configure_nccl: all passed"
