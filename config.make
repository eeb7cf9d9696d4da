# Read by nginx's configure after it has written objs/Makefile's compile rules (see config):
# the rule that builds the module's static library with cargo. nginx-sys reads the configured
# tree from NGINX_SOURCE_DIR and NGINX_BUILD_DIR, so the bindings match this nginx exactly.
# cargo's own environment applies (CARGO_HOME, CARGO_NET_OFFLINE, ...).

cat << END                                                    >> $NGX_MAKEFILE

# cargo decides what needs rebuilding; make always asks it. "+": cargo shares make's job slots.
.PHONY:	$ngx_microcache_lib

$ngx_microcache_lib:
	+NGINX_SOURCE_DIR="$ngx_microcache_source" NGINX_BUILD_DIR="$ngx_microcache_objs" \\
	$NGX_CARGO rustc --locked --release --lib --crate-type staticlib \\
		--manifest-path "$ngx_addon_dir/Cargo.toml" \\
		--target-dir "$ngx_microcache_target" \\
		--no-default-features --features nginx-addon

END

if [ "$ngx_microcache_link" = DYNAMIC ]; then
    # nginx's own rule for the .so only depends on its C objects.
    cat << END                                                >> $NGX_MAKEFILE
$NGX_OBJS${ngx_dirsep}ngx_http_microcache_module$ngx_modext:	$ngx_microcache_lib

END
fi
