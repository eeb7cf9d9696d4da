#!/usr/bin/env python3
"""Reads cargo's JSON messages (cargo build --message-format=json...) on stdin and prints the
out dir of the nginx-sys build script that the build ran or reused: where nginx-src built
nginx (objs/nginx). `make vendored` copies the binary from there. Fails unless exactly one
nginx-sys out dir is reported."""

import json
import sys

out_dirs = set()
for line in sys.stdin:
    if not line.startswith("{"):
        continue
    message = json.loads(line)
    if message.get("reason") != "build-script-executed":
        continue
    # "registry+https://github.com/rust-lang/crates.io-index#nginx-sys@0.5.0"
    name = message["package_id"].rsplit("#", 1)[-1].split("@")[0]
    if name == "nginx-sys":
        out_dirs.add(message["out_dir"])

if len(out_dirs) != 1:
    sys.exit(f"nginx-sys-out-dir: expected one nginx-sys out dir from cargo, got {sorted(out_dirs)}")
print(out_dirs.pop())
