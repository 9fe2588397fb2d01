#!/usr/bin/env bash
# Gets Docker ready for the docker driver's tests on this machine (run as root):
#   1. starts dockerd when nothing answers on /var/run/docker.sock (log: /var/log/dcx-dockerd.log)
#   2. builds the local test image dcx-test/busybox:1: a rootfs holding Debian's busybox-static
#      with links for sh, httpd, nc, sleep..., imported with `docker import` (no registry needed)
# Idempotent: an image already there is kept. Needs the docker.io and busybox-static packages.
set -euo pipefail

IMAGE="dcx-test/busybox:1"
SOCKET=/var/run/docker.sock

if ! docker version >/dev/null 2>&1; then
  if ! command -v dockerd >/dev/null; then
    echo "docker-setup: dockerd is not installed (apt-get install docker.io)" >&2
    exit 1
  fi
  echo "docker-setup: starting dockerd"
  nohup dockerd >/var/log/dcx-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker version >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker version >/dev/null 2>&1 || { echo "docker-setup: dockerd did not answer on $SOCKET; see /var/log/dcx-dockerd.log" >&2; tail -20 /var/log/dcx-dockerd.log >&2; exit 1; }
fi

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "docker-setup: $IMAGE is present"
  exit 0
fi

# busybox-static's binary: it needs no libraries, so it is the whole image.
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || { echo "docker-setup: $BUSYBOX is missing (apt-get install busybox-static)" >&2; exit 1; }

ROOTFS=$(mktemp -d)
trap 'rm -rf "$ROOTFS"' EXIT
mkdir -p "$ROOTFS/bin" "$ROOTFS/tmp" "$ROOTFS/www" "$ROOTFS/etc"
cp "$BUSYBOX" "$ROOTFS/bin/busybox"
for applet in $("$ROOTFS/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$ROOTFS/bin/$applet"
done
chmod 1777 "$ROOTFS/tmp"
echo "root:x:0:0:root:/:/bin/sh" >"$ROOTFS/etc/passwd"
echo "nobody:x:65534:65534:nobody:/:/bin/sh" >>"$ROOTFS/etc/passwd"
echo "root:x:0:" >"$ROOTFS/etc/group"
echo "dcx test image" >"$ROOTFS/www/index.html"
tar -C "$ROOTFS" -c . | docker import -c 'ENV PATH=/bin' -c 'CMD ["/bin/sh"]' - "$IMAGE" >/dev/null
docker run --rm "$IMAGE" true || { echo "docker-setup: $IMAGE does not run (is $BUSYBOX the static build?)" >&2; exit 1; }
echo "docker-setup: built $IMAGE"
