#!/usr/bin/env bash
# Builds, locally and without any registry, the images the examples and the tests run in:
#   toolctl-examples/calculator:1  node and the example calculator (manifests/examples/calculator*.yaml)
#   toolctl-test/busybox:1         a static busybox, for the sandbox probes in test/docker-*.test.ts
# Each image is a small root filesystem (a binary, the shared libraries ldd lists for it, /etc/passwd, an empty
# /tmp and a /state owned by the sandbox user) given to `docker import`. Run it again to rebuild.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Copies a binary and every shared library it loads into a root filesystem, at the same paths.
add_binary() {
  local rootfs=$1 binary=$2 target=$3
  mkdir -p "$rootfs$(dirname "$target")"
  cp -L "$binary" "$rootfs$target"
  for lib in $(ldd "$binary" 2>/dev/null | grep -o '/[^ ]*' || true); do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -Ln "$lib" "$rootfs$lib"
  done
}

base_rootfs() {
  local rootfs=$1
  mkdir -p "$rootfs/etc" "$rootfs/tmp" "$rootfs/state"
  chmod 1777 "$rootfs/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
}

import_rootfs() {
  local rootfs=$1 image=$2
  shift 2
  # /state belongs to the sandbox user (65534), everything else to root.
  tar --numeric-owner --owner=0 --group=0 --exclude=./state -C "$rootfs" -cf "$work/image.tar" .
  tar --numeric-owner --owner=65534 --group=65534 -C "$rootfs" -rf "$work/image.tar" ./state
  docker import "$@" "$work/image.tar" "$image" >/dev/null
  echo "built $image"
}

# The calculator: node, and calc.mjs as /usr/local/bin/calc (the manifest's `command: [calc]`).
calc="$work/calculator"
base_rootfs "$calc"
add_binary "$calc" "$(command -v node)" /usr/local/bin/node
mkdir -p "$calc/app"
{ echo '#!/usr/local/bin/node'; cat manifests/examples/calculator/calc.mjs; } > "$calc/app/calc.mjs"
chmod 755 "$calc/app/calc.mjs"
ln -s /app/calc.mjs "$calc/usr/local/bin/calc"
import_rootfs "$calc" toolctl-examples/calculator:1 \
  -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin' -c 'CMD ["calc"]' -m "toolctl example: the calculator"

# busybox for the probes: sh, cat, nc, ip, dd, ... as links to one binary.
busybox=$(command -v busybox || true)
if [ -z "$busybox" ]; then
  echo "skipped toolctl-test/busybox:1: busybox is not installed (apt-get install busybox-static)" >&2
  exit 0
fi
box="$work/busybox"
base_rootfs "$box"
add_binary "$box" "$busybox" /bin/busybox
for applet in $("$busybox" --list); do
  [ -e "$box/bin/$applet" ] || ln -s busybox "$box/bin/$applet"
done
import_rootfs "$box" toolctl-test/busybox:1 -c 'ENV PATH=/bin' -c 'CMD ["sh"]' -m "toolctl test image: static busybox"
