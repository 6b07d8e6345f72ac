#!/usr/bin/env bash
# Regenerates test/fixtures/debian-<version>-amd64.modules.alias.gz: the modules.alias
# that depmod writes for a real Debian kernel, so the ranking tables run on real data.
# Needs apt (with Debian's archive configured), dpkg-deb and kmod's depmod.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
version=${pkg#linux-image-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -qq "$pkg")
dpkg-deb -x "$work"/*.deb "$work/root"
# Merged-/usr kernels ship modules under lib/modules; depmod -b wants <base>/lib/modules.
if [ -d "$work/root/usr/lib/modules" ] && [ ! -d "$work/root/lib/modules" ]; then
  mkdir -p "$work/root/lib" && ln -s ../usr/lib/modules "$work/root/lib/modules"
fi
depmod -b "$work/root" "$version"
out="$here/test/fixtures/debian-${version}.modules.alias.gz"
gzip -9n < "$work/root/lib/modules/$version/modules.alias" > "$out"
echo "wrote $out ($(zcat "$out" | wc -l) lines, $(zcat "$out" | grep -c '^alias vfio_pci:') vfio_pci lines)"
