#!/usr/bin/env bash
# npm run setup: everything the tests, the real-kernel suite and the benchmark need on a
# fresh Debian bookworm machine (root, apt working; node, npm, python3 and git present),
# then the npm dependencies and the Node releases the tests run the bundle under. Run it once;
# npm test and npm run bench install nothing themselves. It is what .ci/run runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

# Debian packages, each for a reason:
packages=(
  python3                # glibc's fnmatch(3) for the differential test; PR_SET_MDWE (udevd's sandbox) in the bundle test
  util-linux             # unshare(1) for the driverctl benchmark
  rpm                    # rpmbuild and rpm: npm run package, the packaging tests
  rpmlint                # the packaging tests lint the .rpm
  lintian                # ... and the .deb
  man-db                 # man(1) formats the generated man page in the packaging tests
  mmdebstrap             # a clean bookworm root: the install test, the real-kernel suite's guest
  debian-archive-keyring # ... verified against Debian's keys
  qemu-system-x86        # the real-kernel suite (npm run test:vm)
  cpio                   # ... packs the guest's root
  make                   # ... builds the fixture VFIO drivers
  gcc-12                 # ... with the compiler Debian's kernel headers name
  kmod                   # ... depmod for the guest's modules
  e2fsprogs              # the boot suite (npm run test:boot): mkfs.ext4 -d packs the guest's disk, debugfs reads its /boot
  driverctl              # npm run bench compares against driverctl set-override
  ansible                # the Ansible role's suite (npm run test:fleet): ansible-playbook, community.general's chroot connection
  ansible-lint           # ... lints the role
)

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: run as root (it installs Debian packages with apt-get)" >&2
  exit 1
fi
# Only what is missing: a second run, or a machine that has some of them, upgrades nothing.
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
# Always refreshed: the real-kernel suite resolves the current kernel package with apt-cache.
apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

npm ci --no-audit --no-fund
node scripts/fetch-nodes.mjs

node scripts/fetch-busybox.mjs
