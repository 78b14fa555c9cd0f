#!/usr/bin/env bash
# Assemble the root filesystem of a FROM-scratch image around one
# dynamically linked binary, from the files of THIS machine: the binary
# (stripped), exactly the shared libraries `ldd` says it loads, glibc's NSS
# modules for host names (so compose service names and Kubernetes pod DNS
# names resolve through getaddrinfo), a minimal /etc (nsswitch.conf, passwd
# and group with the non-root user 10001), and an empty run directory.
#
# Nothing is downloaded: the image is built from what the host has, which
# is why the binary runs in it (same glibc it was linked against).
#
# usage: assemble-rootfs.sh BINARY DEST [NAME-IN-IMAGE]
#   DEST/rootfs/  -> copied to / (owned by root)
#   DEST/run/     -> copied to /var/run/starling (owned by 10001)
# Extra files for the image (configs) are the caller's to add under
# DEST/rootfs.
set -euo pipefail

binary=${1:?usage: assemble-rootfs.sh BINARY DEST [NAME-IN-IMAGE]}
dest=${2:?usage: assemble-rootfs.sh BINARY DEST [NAME-IN-IMAGE]}
name=${3:-$(basename "$binary")}

[ -x "$binary" ] || { echo "assemble-rootfs: $binary is not an executable" >&2; exit 1; }
command -v ldd >/dev/null || { echo "assemble-rootfs: ldd not found" >&2; exit 1; }

rm -rf "$dest"
mkdir -p "$dest/rootfs/etc" "$dest/run"
rootfs=$dest/rootfs

# The binary, without symbols (the host copy keeps them).
mkdir -p "$rootfs/$(dirname "$name")"
if command -v strip >/dev/null; then
    strip --strip-all -o "$rootfs/$name" "$binary"
else
    cp "$binary" "$rootfs/$name"
fi
chmod 0755 "$rootfs/$name"

# copy_lib PATH: copy a library (symlinks resolved) to the same path.
copy_lib() {
    local path=$1
    mkdir -p "$rootfs$(dirname "$path")"
    cp -L "$path" "$rootfs$path"
}

# Libraries the binary loads, and the dynamic loader: `ldd` prints
# `libc.so.6 => /lib/.../libc.so.6 (0x...)` and `/lib64/ld-linux-x86-64.so.2 (0x...)`.
libc_dir=""
while read -r line; do
    path=""
    case "$line" in
        *"=> not found"*) echo "assemble-rootfs: missing library: $line" >&2; exit 1 ;;
        *"=> /"*) path=$(echo "$line" | sed -E 's/.*=> (\/[^ ]+).*/\1/') ;;
        /*) path=$(echo "$line" | sed -E 's/^(\/[^ ]+).*/\1/') ;;
    esac
    [ -n "$path" ] || continue
    copy_lib "$path"
    case "$path" in */libc.so.*) libc_dir=$(dirname "$path") ;; esac
done < <(ldd "$binary")

# Host name lookups: glibc loads these by name at run time, so ldd does not
# list them. (Since glibc 2.34 the files and dns modules live in libc and
# these are stubs, but glibc still opens them when nsswitch.conf names them.)
if [ -n "$libc_dir" ]; then
    for lib in libnss_files.so.2 libnss_dns.so.2 libresolv.so.2; do
        if [ -e "$libc_dir/$lib" ]; then
            copy_lib "$libc_dir/$lib"
        fi
    done
fi

cat > "$rootfs/etc/nsswitch.conf" <<'NSS'
passwd: files
group:  files
hosts:  files dns
NSS
cat > "$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/:/sbin/nologin
starling:x:10001:10001:starling:/:/sbin/nologin
nobody:x:65534:65534:nobody:/:/sbin/nologin
PASSWD
cat > "$rootfs/etc/group" <<'GROUP'
root:x:0:
starling:x:10001:
nobody:x:65534:
GROUP
chmod 0644 "$rootfs/etc/nsswitch.conf" "$rootfs/etc/passwd" "$rootfs/etc/group"
chmod 0755 "$dest/run"

echo "assemble-rootfs: $dest ($(du -sh "$rootfs" | cut -f1)): $(cd "$rootfs" && find . -type f | sort | tr '\n' ' ')"
