#!/bin/sh
# tests/configure_cudnn.sh: configure finds cuDNN 9 where it is usually installed, the Python
# package nvidia-cudnn included (only libcudnn.so.9 in it, no libcudnn.so), and says which
# attention path the build uses; without cuDNN it says the flash kernel and why; the GPU
# architectures of --with-cuda-arch.
# Runs configure on a CUDA toolkit made of links to this machine's, minus cuDNN, with cuDNN laid
# out as the Python package. Skips (77) where this machine has no CUDA toolkit with cuDNN 9 or no
# python3.
set -u
: "${TETRI_SRCDIR:?run through make check}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/configure_cudnn.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

cuda=
for d in /usr/local/cuda /usr/local/cuda-13.0 /opt/cuda; do
    [ -x "$d/bin/nvcc" ] && [ -f "$d/include/cudnn.h" ] && { cuda=$d; break; }
done
lib=$cuda/lib64
[ -n "$cuda" ] && [ -e "$lib/libcudnn.so.9" ] && command -v python3 >/dev/null ||
    { echo "SKIP: no CUDA toolkit with cuDNN 9 in it, or no python3"; exit 77; }

# The toolkit without cuDNN; cuDNN as pip lays it out (nvidia/cudnn/{include,lib}).
mkdir -p "$tmp/cuda/include" "$tmp/cuda/lib64" "$tmp/py/nvidia/cudnn/include" "$tmp/py/nvidia/cudnn/lib"
ln -s "$cuda/bin" "$tmp/cuda/bin"
for f in "$cuda"/include/*; do
    case ${f##*/} in cudnn*) ln -s "$f" "$tmp/py/nvidia/cudnn/include/" ;; *) ln -s "$f" "$tmp/cuda/include/" ;; esac
done
for f in "$lib"/*; do
    case ${f##*/} in libcudnn*.so.9) ln -s "$f" "$tmp/py/nvidia/cudnn/lib/" ;; libcudnn*) ;; *) ln -s "$f" "$tmp/cuda/lib64/" ;; esac
done
: >"$tmp/py/nvidia/cudnn/__init__.py"

mkdir "$tmp/with" "$tmp/without"
(cd "$tmp/with" && PYTHONPATH="$tmp/py" "$TETRI_SRCDIR/configure" --with-cuda="$tmp/cuda" PYTHON=python3) >"$tmp/with.log" 2>&1 ||
    fail "configure with the Python package: $(tail -5 "$tmp/with.log")"
grep -q "checking for cuDNN 9 (its backend graph API) in $tmp/py/nvidia/cudnn... yes" "$tmp/with.log" ||
    fail "configure did not find cuDNN in the Python package: $(grep -i cudnn "$tmp/with.log")"
grep -q "attention: cuDNN 9\.[0-9]*\.[0-9]* fused attention (in $tmp/py/nvidia/cudnn) by default" "$tmp/with.log" ||
    fail "configure does not say the build uses cuDNN's attention: $(grep -i attention "$tmp/with.log")"
grep -q '^#define HAVE_CUDNN 1' "$tmp/with/config.h" || fail "HAVE_CUDNN not defined"

(cd "$tmp/without" && PYTHONPATH= "$TETRI_SRCDIR/configure" --with-cuda="$tmp/cuda" PYTHON=false) >"$tmp/without.log" 2>&1 ||
    fail "configure without cuDNN: $(tail -5 "$tmp/without.log")"
grep -q "attention: our flash kernels only (wgmma on Hopper, mma.sync on Ampere), about 15% slower a FLUX 2048 px step on Hopper than cuDNN's; cuDNN: no cudnn.h with libcudnn.so(.9) in: $tmp/cuda " "$tmp/without.log" ||
    fail "configure without cuDNN does not say so: $(grep -i 'attention\|cudnn' "$tmp/without.log")"
grep -q '^#define HAVE_CUDNN' "$tmp/without/config.h" && fail "HAVE_CUDNN defined without cuDNN"

# The GPU architectures (issue 14): sm_80, sm_86, sm_90a and compute_80 PTX by default; --with-cuda-arch
# narrows them; anything older than sm_80, or not an architecture, is refused by name.
grep -q "checking GPU architectures... 80 86 90a (PTX: compute_80)" "$tmp/without.log" || fail "default architectures: $(grep -i 'architec' "$tmp/without.log")"
grep -q "device code for 80 86 90a" "$tmp/without.log" || fail "the summary does not name the architectures"
grep -q '^NVCC_ARCH_FLAGS = *-gencode=arch=compute_80,code=sm_80 -gencode=arch=compute_86,code=sm_86 -gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_80,code=compute_80$' \
    "$tmp/without/Makefile" || fail "default NVCC_ARCH_FLAGS: $(grep '^NVCC_ARCH_FLAGS' "$tmp/without/Makefile")"
mkdir "$tmp/arch"
(cd "$tmp/arch" && "$TETRI_SRCDIR/configure" --with-cuda="$tmp/cuda" --without-cudnn --with-cuda-arch=sm_80) >"$tmp/arch.log" 2>&1 ||
    fail "configure --with-cuda-arch=sm_80: $(tail -5 "$tmp/arch.log")"
grep -q '^NVCC_ARCH_FLAGS = *-gencode=arch=compute_80,code=sm_80 -gencode=arch=compute_80,code=compute_80$' "$tmp/arch/Makefile" ||
    fail "--with-cuda-arch=sm_80: $(grep '^NVCC_ARCH_FLAGS' "$tmp/arch/Makefile")"
grep -q '^#define TETRI_CUDA_ARCHS "80"' "$tmp/arch/config.h" || fail "TETRI_CUDA_ARCHS for --with-cuda-arch=sm_80"
(cd "$tmp/arch" && "$TETRI_SRCDIR/configure" --with-cuda="$tmp/cuda" --without-cudnn --with-cuda-arch=90a) >"$tmp/arch.log" 2>&1 ||
    fail "configure --with-cuda-arch=90a: $(tail -5 "$tmp/arch.log")"
grep -q "checking GPU architectures... 90a (PTX: none)" "$tmp/arch.log" || fail "--with-cuda-arch=90a: $(grep -i 'architec' "$tmp/arch.log")"
for bad in 75 9x; do
    (cd "$tmp/arch" && "$TETRI_SRCDIR/configure" --with-cuda="$tmp/cuda" --without-cudnn --with-cuda-arch=$bad) >"$tmp/arch.log" 2>&1 &&
        fail "configure --with-cuda-arch=$bad succeeded"
    grep -q "error: --with-cuda-arch: .*$bad" "$tmp/arch.log" || fail "--with-cuda-arch=$bad: $(tail -2 "$tmp/arch.log")"
done

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "configure_cudnn: all passed"
